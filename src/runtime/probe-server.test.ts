/** The operator's probe server on loopback: what it answers, and its TLS policy. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCertificate } from '../pki/certificates.ts';
import { expectAeadOnlyTls, httpsGet } from '../../test/support/tls.ts';
import { startProbeServer } from './probe-server.ts';

let served: Awaited<ReturnType<typeof startProbeServer>>;

beforeAll(async () => {
  const ca = await createCertificateAuthority('probe-test-ca');
  const serving = await issueServingCertificate(ca, { commonName: 'probes', ipAddresses: ['127.0.0.1'] });
  served = await startProbeServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: serving.certificate, key: serving.privateKey },
    isAlive: () => true,
    isReady: () => true,
  });
});

afterAll(() => {
  served.server.close();
});

describe('the probe server TLS', () => {
  it('offers only ECDHE with AEAD suites on TLS 1.2, and TLS 1.3 as is (openssl s_client)', async () => {
    expect(served.port).toBeGreaterThan(0);
    await expectAeadOnlyTls(served.port);
  });
});

describe('the probe server', () => {
  it('answers the probes and nothing else: /metrics lives on its own authenticated port', async () => {
    const get = async (path: string) => (await httpsGet(served.port, path)).status;
    expect(await get('/healthz')).toBe(200);
    expect(await get('/readyz')).toBe(200);
    expect(await get('/metrics')).toBe(404);
  });
});
