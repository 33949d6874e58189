import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CertificateKeeper, type CertificateSource } from './certificate-keeper.ts';
import type { TlsMaterial } from './tls-secret.ts';

function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => (check() ? resolve() : Date.now() > deadline ? reject(new Error('timed out')) : setTimeout(tick, 5));
    tick();
  });
}

const pair = (n: number): TlsMaterial => ({ certificate: `cert-${n}`, privateKey: `key-${n}`, ca: 'ca' });

describe('CertificateKeeper', () => {
  it('hands over the first and every changed certificate, and re-checks when poked', async () => {
    let version = 1;
    let refreshes = 0;
    const source: CertificateSource = { description: 'test', refresh: async () => { refreshes++; return pair(version); } };
    const served: string[] = [];
    let after = 0;
    const keeper = new CertificateKeeper(source, { intervalMs: 60_000, logger: pino({ level: 'silent' }), onCertificate: (m) => { served.push(m.certificate); }, afterRefresh: () => { after++; } });
    const stop = new AbortController();
    const running = keeper.run(stop.signal);
    await until(() => served.length === 1);
    expect(keeper.current()?.certificate).toBe('cert-1');

    keeper.poke();
    await until(() => refreshes === 2);
    expect(served).toEqual(['cert-1']);

    version = 2;
    keeper.poke();
    await until(() => served.length === 2);
    expect(served).toEqual(['cert-1', 'cert-2']);
    await until(() => after === 3);
    stop.abort();
    await running;
  });

  it('retries a failing source and a failing afterRefresh, without giving up', async () => {
    let calls = 0;
    const source: CertificateSource = {
      description: 'flaky',
      refresh: async () => {
        calls++;
        if (calls === 1) throw new Error('apiserver down');
        if (calls === 2) return undefined;
        return pair(1);
      },
    };
    let registrations = 0;
    const served: string[] = [];
    const keeper = new CertificateKeeper(source, {
      intervalMs: 60_000,
      logger: pino({ level: 'silent' }),
      onCertificate: (m) => { served.push(m.certificate); },
      afterRefresh: () => { registrations++; if (registrations === 1) throw new Error('forbidden'); },
    });
    const stop = new AbortController();
    const running = keeper.run(stop.signal);
    // Backoff 1 s then 2 s: poke to skip the waits.
    await until(() => calls === 1);
    keeper.poke();
    await until(() => calls === 2);
    keeper.poke();
    await until(() => registrations === 1);
    keeper.poke();
    await until(() => registrations === 2);
    expect(served).toEqual(['cert-1']);
    stop.abort();
    await running;
  });
});
