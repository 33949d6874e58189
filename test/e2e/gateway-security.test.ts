/**
 * What the gateway refuses: another endpoint's repository, bad credentials, paths that try to leave a
 * repository, disabled endpoints, TLS older than 1.2, human sign-in without the second factor — and
 * that a configuration reload takes effect (and a broken one does not), without secrets in the logs.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
import { expectAeadOnlyTls } from '../support/tls.ts';
import { GatewayFixture, expectSuccess, listFiles, restic, run, type RunResult } from './gateway-fixture.ts';

const A = 'laptop-01';
const B = 'server-02';
const DISABLED = 'old-pc';

let fixture: GatewayFixture;
let work: string;

beforeAll(async () => {
  fixture = await GatewayFixture.start({
    endpoints: [{ name: A }, { name: B }, { name: DISABLED, enabled: false }],
    humansPolicy: 'two-factor',
    users: [{ name: 'alice', role: 'admin' }, { name: 'victor', role: 'viewer' }],
  });
  work = await mkdtemp(join(tmpdir(), 'gateway-security-'));
  await writeFile(join(work, 'file.txt'), 'endpoint B data\n');
  expectSuccess(await restic(fixture, fixture.repositoryUrl(B), ['init']), 'init B');
  expectSuccess(await restic(fixture, fixture.repositoryUrl(B), ['backup', work]), 'backup B');
});

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const auth = (user: string, password = fixture.secrets.endpoints[user]!): Record<string, string> => fixture.basicAuth(user, password);

/** Sends a raw HTTP/1.1 request over TLS exactly as written (no client-side path normalisation). */
async function rawRequest(requestLine: string, headers: Record<string, string>): Promise<number> {
  const ca = await readFile(fixture.caCert);
  return new Promise((done, fail) => {
    const socket = connect({ host: '127.0.0.1', port: fixture.port, ca, servername: 'localhost' }, () => {
      const head = Object.entries({ Host: 'localhost', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(`${requestLine}\r\n${head}\r\n`);
    });
    let response = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => (response += text));
    socket.once('error', fail);
    socket.once('close', () => done(Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)));
  });
}

function opensslClient(args: string[]): Promise<RunResult> {
  return run('openssl', ['s_client', '-connect', `127.0.0.1:${fixture.port}`, '-servername', 'localhost', '-CAfile', fixture.caCert, ...args], { timeoutMs: 15_000, input: 'Q\n' });
}

describe('segregation between endpoints', () => {
  it('restic with endpoint A’s credentials cannot open, list or initialise B’s repository', async () => {
    const filesBefore = (await listFiles(join(fixture.dataDir, 'endpoints', B))).sort();
    const asA = fixture.repositoryUrl(B, A, fixture.secrets.endpoints[A]);
    for (const args of [['snapshots'], ['init'], ['list', 'keys'], ['cat', 'config']]) {
      const result = await restic(fixture, asA, args);
      expect(result.code, `restic ${args.join(' ')} as A on B`).not.toBe(0);
    }
    expect((await listFiles(join(fixture.dataDir, 'endpoints', B))).sort()).toEqual(filesBefore);
  });

  it('refuses every REST operation of A on B with 403, and B itself still works', async () => {
    const keyName = (await fixture.fetch(`/${B}/keys/`, { headers: auth(B) })).text;
    const key = (JSON.parse(keyName) as string[])[0]!;
    const body = randomBytes(100);
    const id = createHash('sha256').update(body).digest('hex');
    const attempts: [string, string, Buffer?][] = [
      ['GET', `/${B}/config`],
      ['HEAD', `/${B}/config`],
      ['GET', `/${B}/keys/`],
      ['GET', `/${B}/keys/${key}`],
      ['POST', `/${B}/keys/${id}`, body],
      ['DELETE', `/${B}/keys/${key}`],
      ['POST', `/${B}/?create=true`],
    ];
    for (const [method, path, payload] of attempts) {
      const response = await fixture.fetch(path, { method, headers: auth(A), body: payload });
      expect(response.status, `${method} ${path} as A`).toBe(403);
    }
    expect((await fixture.fetch(`/${B}/keys/${key}`, { headers: auth(B) })).status).toBe(200);
    expect((await fixture.fetch(`/${B}/keys/${id}`, { method: 'HEAD', headers: auth(B) })).status).toBe(404);
  });

  it('refuses paths that try to leave the repository before touching the disk', async () => {
    const attempts = [
      `GET /${A}/../${B}/config HTTP/1.1`,
      `GET /${A}/%2e%2e/${B}/config HTTP/1.1`,
      `GET /${A}%2f..%2f${B}/config HTTP/1.1`,
      `GET /${A}/keys/..%2f..%2f${B}%2fconfig HTTP/1.1`,
      `GET /${A}/keys/%00 HTTP/1.1`,
      `GET /${A}//${B}/config HTTP/1.1`,
      `GET /${A}/\\..\\${B}/config HTTP/1.1`,
      `GET //etc/passwd HTTP/1.1`,
      `GET https://localhost/${B}/config HTTP/1.1`,
      `GET /${A}/keys/../../../../etc/passwd HTTP/1.1`,
    ];
    for (const line of attempts) {
      const status = await rawRequest(line, auth(A));
      expect([400, 404], line).toContain(status);
    }
  });
});

describe('endpoint credentials', () => {
  it('refuses wrong, unknown and missing credentials with 401, and restic fails', async () => {
    expect((await fixture.fetch(`/${A}/config`, { headers: auth(A, 'wrong-password') })).status).toBe(401);
    expect((await fixture.fetch(`/${A}/config`, { headers: auth('nobody', 'x') })).status).toBe(401);
    const missing = await fixture.fetch(`/${A}/config`);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Basic /);
    const result = await restic(fixture, fixture.repositoryUrl(A, A, 'wrong-password'), ['init']);
    expect(result.code).not.toBe(0);
  });

  it('refuses a disabled endpoint even with its right credentials', async () => {
    expect((await fixture.fetch(`/${DISABLED}/?create=true`, { method: 'POST', headers: auth(DISABLED) })).status).toBe(403);
    expect((await restic(fixture, fixture.repositoryUrl(DISABLED), ['init'])).code).not.toBe(0);
  });
});

describe('TLS 1.2+ only', () => {
  it('refuses TLS 1.0 and 1.1 at handshake even from a client willing to use them', async () => {
    for (const version of ['-tls1', '-tls1_1']) {
      const result = await opensslClient([version, '-cipher', 'DEFAULT@SECLEVEL=0']);
      expect(result.code, `openssl s_client ${version} must fail`).not.toBe(0);
      expect(result.stdout).toMatch(/New, \(NONE\), Cipher is \(NONE\)/);
    }
  });

  it('accepts TLS 1.2 and 1.3', async () => {
    for (const [flag, protocol] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
      const result = await opensslClient([flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`New, ${protocol}, Cipher is`);
      expect(result.stdout).toContain('Verify return code: 0 (ok)');
    }
  });

  it('offers only ECDHE with AEAD suites on TLS 1.2, and TLS 1.3 as is', async () => {
    await expectAeadOnlyTls(fixture.port, { caFile: fixture.caCert, servername: 'localhost' });
  });

  it('(control) the same openssl client does speak TLS 1.1 to a server that allows it', async () => {
    const port = fixture.port + 1;
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', join(fixture.configDir, 'tls.crt'), '-key', join(fixture.configDir, 'tls.key'), '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', '-www'], { stdio: 'ignore' });
    try {
      await new Promise((done) => setTimeout(done, 700));
      const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { timeoutMs: 10_000, input: 'Q\n' });
      expect(result.stdout).toContain('New, TLSv1.0, Cipher is');
      expect(result.stdout).toMatch(/Protocol\s*:\s*TLSv1\.1/);
    } finally {
      server.kill();
    }
  });
});

describe('human routes (two-factor)', () => {
  const signInWith = (body: Record<string, unknown>) =>
    fixture.fetch('/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  it('refuses a wrong password, a missing code and a wrong code, all alike', async () => {
    const password = fixture.secrets.users.alice!.password;
    const right = fixture.totpCode('alice');
    const wrongCode = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    const refusals = [
      await signInWith({ user: 'alice', password: 'wrong', code: right }),
      await signInWith({ user: 'alice', password }),
      await signInWith({ user: 'alice', password, code: wrongCode }),
      await signInWith({ user: 'mallory', password, code: right }),
    ];
    for (const response of refusals) {
      expect(response.status).toBe(401);
      expect(response.text).toBe(refusals[0]!.text);
    }
  });

  it('signs in with password and TOTP, then shows usage and snapshot metadata; a code is accepted once', async () => {
    const code = fixture.totpCode('alice');
    const first = await signInWith({ user: 'alice', password: fixture.secrets.users.alice!.password, code });
    expect(first.status).toBe(200);
    const { token, role } = JSON.parse(first.text) as { token: string; role: string };
    expect(role).toBe('admin');
    expect((await signInWith({ user: 'alice', password: fixture.secrets.users.alice!.password, code })).status).toBe(401);

    const bearer = { Authorization: `Bearer ${token}` };
    const usage = JSON.parse((await fixture.fetch('/v1/usage', { headers: bearer })).text) as { space: { usedBytes: number; quotaBytes: number }; endpoints: { name: string; snapshots: number; bytesStored: number }[] };
    expect(usage.space.usedBytes).toBeGreaterThan(0);
    expect(usage.endpoints.find((e) => e.name === B)?.snapshots).toBe(1);
    const snapshots = JSON.parse((await fixture.fetch('/v1/snapshots', { headers: bearer })).text) as { endpoints: { name: string; snapshots: { id: string; size: number; storedAt: string }[] }[] };
    const ofB = snapshots.endpoints.find((e) => e.name === B)!.snapshots;
    expect(ofB).toHaveLength(1);
    expect(ofB[0]!.id).toMatch(/^[0-9a-f]{64}$/);
    expect(ofB[0]!.size).toBeGreaterThan(0);

    expect((await fixture.fetch('/v1/usage')).status).toBe(401);
    expect((await fixture.fetch('/v1/usage', { headers: { Authorization: `Bearer ${token}x` } })).status).toBe(401);
    // Provider custody: there is nothing to unseal.
    expect((await fixture.fetch('/v1/unseal', { method: 'POST', headers: { ...bearer, 'Content-Type': 'application/json' }, body: '{"password":"x"}' })).status).toBe(409);
  });

  it('lets only admins unseal', async () => {
    const token = await fixture.signIn('victor', fixture.totpCode('victor'));
    const response = await fixture.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"password":"x"}' });
    expect(response.status).toBe(403);
  });
});

describe('configuration reload', () => {
  it('applies a new configuration without a restart, and keeps the old one when the new one is broken', async () => {
    const original = structuredClone(fixture.access);
    const disabledB = structuredClone(original);
    disabledB.endpoints.find((e) => e.name === B)!.enabled = false;
    await fixture.writeAccess(disabledB);
    await eventually('B to be refused after the reload', async () => ((await fixture.fetch(`/${B}/config`, { headers: auth(B) })).status === 403 ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });

    await writeFile(join(fixture.configDir, 'access.json'), '{ "version": 1, broken');
    await eventually('the broken configuration to be rejected', async () => (fixture.logs.includes('new configuration rejected') ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });
    expect((await fixture.fetch(`/${B}/config`, { headers: auth(B) })).status).toBe(403);
    expect((await fixture.fetch(`/${A}/keys/`, { headers: auth(A) })).status).toBe(200);
    expect(await fixture.metrics()).toMatch(/tenant_backup_gateway_config_reloads_total\{result="rejected"\} 1/);

    await fixture.writeAccess(original);
    await eventually('B to be let in again', async () => ((await fixture.fetch(`/${B}/config`, { headers: auth(B) })).status === 200 ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });
  });
});

describe('logs', () => {
  it('never contain a credential, password, TOTP secret, token or key', () => {
    const logs = fixture.logs;
    expect(logs).toContain('authentication failed');
    const secrets = [
      ...Object.values(fixture.secrets.endpoints),
      fixture.secrets.maintenance.secret,
      fixture.secrets.reportToken,
      ...Object.values(fixture.secrets.users).flatMap((u) => [u.password, u.totpSecret ?? '']).filter((s) => s !== ''),
      fixture.secrets.dataKey.toString('base64'),
    ];
    for (const secret of secrets) expect(logs.includes(secret)).toBe(false);
    expect(logs.toLowerCase()).not.toContain('authorization');
  });
});
