/**
 * POST /v1/enrol on real gateway processes' code path, in process: two Gateways on one config and
 * one data directory stand for two replicas sharing the space's volume.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, generateActivationCode, generateCredential, generateDataKey, hashSecret, keyIdOf, sealEnrolment } from '../crypto/index.ts';
import { createLogger } from '../log/logger.ts';
import { gatewayRequest, writeGatewayConfigDir } from '../../test/support/gateway-config-dir.ts';
import type { EndpointAccess, GatewayAccessConfig } from './access-config.ts';
import { Gateway } from './server.ts';

let dir: string;
let ca: string;
const replicas: Gateway[] = [];
const codes: Record<string, string> = {};
const credentials: Record<string, string> = {};

async function endpoint(name: string, expiresAt: string): Promise<EndpointAccess> {
  codes[name] = generateActivationCode();
  credentials[name] = generateCredential();
  return {
    name,
    credentialHash: await hashSecret(credentials[name], TEST_SCRYPT_PARAMS),
    repository: `endpoints/${name}`,
    enabled: true,
    enrolment: { seal: await sealEnrolment(credentials[name], codes[name], `tenant-acme/${name}`, TEST_SCRYPT_PARAMS), expiresAt, repositoryUrl: `rest:https://127.0.0.1:8443/${name}/` },
  };
}

function enrol(gateway: Gateway, body: unknown): ReturnType<typeof gatewayRequest> {
  return gatewayRequest(gateway.address().port, ca, '/v1/enrol', body);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'enrol-route-'));
  const configDir = join(dir, 'config');
  await mkdir(join(dir, 'data'));
  const dataKey = generateDataKey();
  const later = new Date(Date.now() + 3600_000).toISOString();
  const access: GatewayAccessConfig = {
    version: 1,
    space: { namespace: 'tenant-acme', name: 'main', uid: 'uid-main', quotaBytes: 1 << 20, appendOnly: false, encryptAtRest: true, keyCustody: { mode: 'provider', keyId: keyIdOf(dataKey) } },
    endpoints: [await endpoint('laptop', later), await endpoint('phone', new Date(Date.now() - 1000).toISOString()), await endpoint('nas', later)],
    humans: { policy: 'disabled', users: [] },
    reportTokenHash: await hashSecret(generateCredential(), TEST_SCRYPT_PARAMS),
  };
  ca = await writeGatewayConfigDir(configDir, access, dataKey);
  const log = createLogger({ name: 'gateway', level: 'silent' });
  for (let i = 0; i < 2; i++) replicas.push(await Gateway.start({ configDir, dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, log }));
});

afterAll(async () => {
  for (const gateway of replicas) await gateway.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('POST /v1/enrol', () => {
  it('hands out the credential, repository and CA once, whichever replica is asked, however many ask at once', async () => {
    const [first, second] = replicas as [Gateway, Gateway];
    const answers = await Promise.all([first, second, first, second].map((gateway) => enrol(gateway, { endpoint: 'laptop', code: codes.laptop })));
    const granted = answers.filter((a) => a.status === 200);
    expect(granted).toHaveLength(1);
    expect(JSON.parse(granted[0]?.text ?? '{}')).toEqual({ endpoint: 'laptop', username: 'laptop', password: credentials.laptop, repository: 'rest:https://127.0.0.1:8443/laptop/', caCertificate: ca });
    expect(answers.filter((a) => a.status === 410).map((a) => a.text)).toEqual(Array(3).fill('the activation code was already used; ask for a new device enrolment\n'));
  });

  it('refuses an expired code, and a code of another endpoint', async () => {
    const [first] = replicas as [Gateway];
    expect(await enrol(first, { endpoint: 'phone', code: codes.phone })).toMatchObject({ status: 410, text: expect.stringContaining('expired') });
    expect((await enrol(first, { endpoint: 'nas', code: codes.phone })).status).toBe(401);
    expect((await enrol(first, { endpoint: 'nobody', code: codes.nas })).status).toBe(401);
    expect((await enrol(first, { endpoint: 'nas' })).status).toBe(400);
  });

  it('locks an endpoint after wrong codes, refusing the right one too, and says when to come back', async () => {
    const [, second] = replicas as [Gateway, Gateway];
    for (let i = 0; i < 6; i++) expect((await enrol(second, { endpoint: 'nas', code: generateActivationCode() })).status).toBe(401);
    const locked = await enrol(second, { endpoint: 'nas', code: codes.nas });
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
  });
});
