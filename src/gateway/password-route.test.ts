/**
 * POST /v1/password in process: a customer-custody space with no key yet, a tenant admin signed in
 * with password and TOTP, and a second Gateway on the same volume standing for another replica.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, generateCredential, generateTotpSecret, hashSecret } from '../crypto/index.ts';
import { createLogger } from '../log/logger.ts';
import { gatewayRequest, writeGatewayConfigDir } from '../../test/support/gateway-config-dir.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { Gateway } from './server.ts';

const FIRST = 'the first space password';
const SECOND = 'the second space password';
const totpSecret = generateTotpSecret();
let dir: string;
let ca: string;
let token: string;
const started: Gateway[] = [];
const log = createLogger({ name: 'gateway', level: 'silent' });

const start = async (): Promise<Gateway> => {
  const gateway = await Gateway.start({ configDir: join(dir, 'config'), dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, log });
  started.push(gateway);
  return gateway;
};
const post = (gateway: Gateway, path: string, body: unknown) => gatewayRequest(gateway.address().port, ca, path, body, { Authorization: `Bearer ${token}` });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'password-route-'));
  await mkdir(join(dir, 'data'));
  const access: GatewayAccessConfig = {
    version: 1,
    space: { namespace: 'tenant-acme', name: 'vault', uid: 'uid-vault', quotaBytes: 1 << 20, appendOnly: false, encryptAtRest: true, keyCustody: { mode: 'customer' } },
    endpoints: [],
    humans: { policy: 'two-factor', users: [{ name: 'giulia', email: 'g@example.com', role: 'admin', passwordHash: await hashSecret('giulia-sign-in', TEST_SCRYPT_PARAMS), totpSecret }] },
    reportTokenHash: await hashSecret(generateCredential(), TEST_SCRYPT_PARAMS),
  };
  ca = await writeGatewayConfigDir(join(dir, 'config'), access);
  // One session key for both replicas, as the operator renders it: a token works on either.
  await writeFile(join(dir, 'config', 'session.key'), randomBytes(32).toString('base64'));
});

afterAll(async () => {
  for (const gateway of started) await gateway.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('POST /v1/password', () => {
  it('sets the space password once: the data key is made, the gateway unseals, and only a record is kept', async () => {
    const gateway = await start();
    expect(gateway.context.vault.state).toBe('sealed');
    const code = new TOTP({ secret: totpSecret, algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    const session = await gatewayRequest(gateway.address().port, ca, '/v1/session', { user: 'giulia', password: 'giulia-sign-in', code });
    expect(session.status).toBe(200);
    token = (JSON.parse(session.text) as { token: string }).token;
    expect((await post(gateway, '/v1/password', { newPassword: 'short' })).status).toBe(400);
    const set = await post(gateway, '/v1/password', { newPassword: FIRST });
    expect(set.status, set.text).toBe(200);
    expect(JSON.parse(set.text)).toMatchObject({ state: 'ready', recordVersion: 1 });
    expect(gateway.context.vault.state).toBe('ready');
    expect((await post(gateway, '/v1/password', { newPassword: SECOND })).status).toBe(409);
    const stored = await readFile(join(dir, 'data', '.tenant-backup', 'customer-key', 'customer-key.json'), 'utf8');
    expect(stored).toContain('"verifier"');
    expect(stored).not.toContain(FIRST);
  });

  it('changes it with the old one: another replica then unseals with the new password only', async () => {
    const [gateway] = started as [Gateway];
    expect((await post(gateway, '/v1/password', { oldPassword: 'not the old password', newPassword: SECOND })).status).toBe(401);
    const keyBefore = Buffer.from(gateway.context.vault.dataKey ?? Buffer.alloc(0));
    const changed = await post(gateway, '/v1/password', { oldPassword: FIRST, newPassword: SECOND });
    expect(changed.status, changed.text).toBe(200);
    expect(JSON.parse(changed.text)).toMatchObject({ state: 'ready', recordVersion: 2 });
    const replica = await start();
    expect(replica.context.vault.state).toBe('sealed');
    expect((await post(replica, '/v1/unseal', { password: FIRST })).status).toBe(401);
    expect((await post(replica, '/v1/unseal', { password: SECOND })).status).toBe(200);
    // The same data key, re-wrapped: nothing stored under it needs re-encrypting.
    expect(replica.context.vault.dataKey).toEqual(keyBefore);
  });
});
