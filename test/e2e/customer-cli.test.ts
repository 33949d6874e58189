/**
 * The customer admin's commands (`tenant-backup login`, `usage`, `unseal`, `set-password`) as a
 * customer runs them: src/cli/main.ts as a child process against the real gateway over real TLS,
 * verified against the fixture's CA, with a real TOTP code of the user's enrolment. Passwords go
 * in on stdin or from a file, never in argv.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanBytes } from '../../src/controllers/backupspace/report.ts';
import { GatewayFixture, expectSuccess, restic, run, type RunResult } from './gateway-fixture.ts';

const ENTRY = resolve(import.meta.dirname, '../../src/cli/main.ts');
const ENDPOINT = 'laptop-01';
let fixture: GatewayFixture;
let home: string;

/** The CLI with its own config directory (XDG_CONFIG_HOME), so the session file is the test's. */
function cli(args: string[], input = ''): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(home, 'config') };
  delete env.TENANT_BACKUP_CONFIG_DIR;
  delete env.TENANT_BACKUP_TOTP_CODE;
  return run(process.execPath, [ENTRY, ...args], { env, input, timeoutMs: 60_000 });
}

const sessionFile = () => join(home, 'config', 'tenant-backup', 'session.json');
const loginArgs = (code: string) => ['login', '--gateway', fixture.baseUrl(), '--ca-file', fixture.caCert, '--user', 'alice', '--password-file', '-', '--totp-code', code];

beforeAll(async () => {
  fixture = await GatewayFixture.start({ endpoints: [{ name: ENDPOINT }], custody: 'customer', humansPolicy: 'two-factor', users: [{ name: 'alice', role: 'admin' }] });
  home = await mkdtemp(join(tmpdir(), 'customer-cli-'));
});

afterAll(async () => {
  await fixture?.close();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

describe('the customer commands against a real gateway', () => {
  it('refuse a wrong TOTP code with a clear message and keep no session', async () => {
    const valid = new Set([-1, 0, 1].map((step) => fixture.totpCode('alice', step)));
    let wrong = '123456';
    while (valid.has(wrong)) wrong = String((Number(wrong) + 1) % 1_000_000).padStart(6, '0');
    const refused = await cli(loginArgs(wrong), `${fixture.secrets.users.alice!.password}\n`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('login refused: the gateway did not accept user alice with that password and TOTP code');
    await expect(stat(sessionFile())).rejects.toThrow(/ENOENT/);
    // Not signed in: the other commands say what to do.
    const usage = await cli(['usage']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('not signed in: run tenant-backup login');
    // A code that is not six digits never reaches the gateway.
    const malformed = await cli(loginArgs('12ab'), `${fixture.secrets.users.alice!.password}\n`);
    expect(malformed.stderr).toContain("--totp-code: a TOTP code is the 6 digits your authenticator app shows, not '12ab'");
  });

  it('log in with the password on stdin and a real TOTP code, keeping the session in a 0600 file', async () => {
    const result = await cli(loginArgs(fixture.totpCode('alice')), `${fixture.secrets.users.alice!.password}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Signed in to ${fixture.baseUrl()} as alice (admin) until `);
    expect((await stat(sessionFile())).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'config', 'tenant-backup'))).mode & 0o777).toBe(0o700);
    const stored = await readFile(sessionFile(), 'utf8');
    expect(stored).not.toContain(fixture.secrets.users.alice!.password);
    expect(JSON.parse(stored)).toMatchObject({ version: 1, gateway: fixture.baseUrl(), caFile: fixture.caCert, user: 'alice', role: 'admin' });
  });

  it('show the usage of the sealed space, unseal it (a wrong password refused), and show the figures after a backup', async () => {
    const sealed = await cli(['usage']);
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stdout).toContain('Space tenant-acme/space-1');
    expect(sealed.stdout).toContain('used       0B of 10.0Gi (0.0%), 10.0Gi free');
    expect(sealed.stdout).toContain('data key   sealed: run tenant-backup unseal');

    const passwordFile = join(home, 'key-password');
    await writeFile(passwordFile, 'not-the-password\n', { mode: 0o600 });
    const wrong = await cli(['unseal', '--password-file', passwordFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('unseal refused: wrong customer key password');
    expect((await fixture.report()).gateway.dataKeyState).toBe('sealed');

    await writeFile(passwordFile, `${fixture.secrets.customerPassword}\n`, { mode: 0o600 });
    const unsealed = await cli(['unseal', '--password-file', passwordFile]);
    expect(unsealed.code, unsealed.stderr).toBe(0);
    expect(unsealed.stdout).toContain('Unsealed: 1 of 1 gateway replica(s) hold the key');
    expect((await fixture.report()).gateway.dataKeyState).toBe('ready');

    await writeFile(join(home, 'payload.bin'), randomBytes(300_000));
    const repo = fixture.repositoryUrl(ENDPOINT);
    expectSuccess(await restic(fixture, repo, ['init']), 'restic init');
    expectSuccess(await restic(fixture, repo, ['backup', join(home, 'payload.bin')]), 'restic backup');

    const report = await fixture.report();
    const endpoint = report.endpoints.find((e) => e.name === ENDPOINT)!;
    const after = await cli(['usage']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain(`used       ${humanBytes(report.space.usedBytes)} of 10.0Gi`);
    expect(after.stdout).toContain('data key   unsealed (serving)');
    expect(after.stdout).toMatch(new RegExp(`${ENDPOINT}\\s+${humanBytes(endpoint.bytesStored).replace('.', '\\.')}\\s+${endpoint.objects}\\s+1\\s+${endpoint.lastBackupAt}`));
    const json = JSON.parse((await cli(['usage', '--json'])).stdout) as { space: { usedBytes: number } };
    expect(json.space.usedBytes).toBe(report.space.usedBytes);
  });

  it('set-password changes the space password, refusing a wrong current one, and never prints it', async () => {
    const file = join(home, 'new-password');
    await writeFile(file, 'a-new-space-password-2026\n', { mode: 0o600 });
    const wrong = await cli(['set-password', '--new-password-file', file, '--current-password-file', '-'], 'not-the-password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('set-password refused');
    const changed = await cli(['set-password', '--new-password-file', file, '--current-password-file', '-'], `${fixture.secrets.customerPassword}\n`);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toContain('Password of the space set by alice');
    expect(changed.stdout + changed.stderr).not.toContain('a-new-space-password-2026');
  });

  it('never trust a gateway the CA file does not vouch for', async () => {
    const otherCa = join(home, 'other-ca');
    const { execFile } = await import('node:child_process');
    await new Promise<void>((done, fail) => execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${otherCa}.key`, '-out', `${otherCa}.crt`, '-days', '1', '-subj', '/CN=other'], (error) => (error ? fail(error) : done())));
    const result = await cli(['usage', '--ca-file', `${otherCa}.crt`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the gateway at ${fixture.baseUrl()} is not who --ca-file ${otherCa}.crt vouches for`);
  });
});
