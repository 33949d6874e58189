/**
 * The whole path, end to end: the operator renders a space's gateway configuration (customer-held
 * key, 2FA), a real gateway process serves it, a tenant admin signs in with password and TOTP and
 * unseals it, the real restic client backs up over TLS verified against the operator's CA, and the
 * operator surfaces what the gateway reports into BackupSpace and Endpoint status.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint } from '../../src/api/types.ts';
import { GATEWAY_NODE_FLAGS } from '../../src/gateway/command.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { freePort } from '../harness/ports.ts';
import { condition, createCustomerCustodySpace, ensureDatacenters, eventualSecret, mergePatch, readObject, removeTenant, requiredSecretField } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { expectSuccess, generateTree, hashTree, requireTools, run } from './gateway-fixture.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const tenant = uniqueName('e2e');
const namespace = `tenant-${tenant}`;
const CUSTOMER_PASSWORD = 'correct-horse-battery-staple-e2e';
const entryPoint = join(import.meta.dirname, '../../src/cli/main.ts');

let operator: OperatorProcess;
let gateway: ChildProcess | undefined;
let gatewayPort: number;
let work: string;
let gatewayCa = '';

const decode = requiredSecretField;
const secret = (name: string): Promise<V1Secret> => eventualSecret(client, namespace, name);

/** What the Deployment would mount: the rendered configuration and the TLS pair, as files. */
async function writeGatewayConfig(configDir: string): Promise<void> {
  const config = await secret('vault-gateway-config');
  const tls = await secret('vault-gateway-tls');
  for (const key of Object.keys(config.data ?? {})) await writeFile(join(configDir, key), decode(config, key));
  await writeFile(join(configDir, 'tls.crt'), decode(tls, 'tls.crt'));
  await writeFile(join(configDir, 'tls.key'), decode(tls, 'tls.key'));
  await writeFile(join(work, 'ca.crt'), decode(tls, 'ca.crt'));
}

function post(path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request({
      host: '127.0.0.1', port: gatewayPort, path, method: 'POST', ca: gatewayCa, servername: `vault-gateway.${namespace}.svc`,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      response.on('end', () => {
        const isJson = String(response.headers['content-type'] ?? '').includes('json');
        resolve({ status: response.statusCode ?? 0, json: isJson && text ? JSON.parse(text) as Record<string, unknown> : { text } });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
beforeAll(async () => {
  await requireTools();
  await installCrds(client);
  await ensureDatacenters(client);
  // The gateway's fixed address is loopback, so the certificate the operator issues names it.
  await mergePatch(client, API.Datacenter, 'de-fra1', undefined, { spec: { addressPool: { addresses: ['127.0.0.1'] } } });
  work = await mkdtemp(join(tmpdir(), 'operator-gateway-'));
  gatewayPort = await freePort();
  const operatorNamespace = uniqueName('tb-system');
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, [
    '--namespace', operatorNamespace,
    '--report-interval', '2s',
    '--gateway-address', `${namespace}/vault=127.0.0.1:${gatewayPort}`,
  ]);
  await createCustomerCustodySpace(client, { tenant, country: 'DE', datacenter: 'de-fra1', password: CUSTOMER_PASSWORD, replicas: 1 });
  await eventually('the endpoint in the rendered configuration', async () => (decode(await secret('vault-gateway-config'), 'access.json').includes('"laptop"') ? true : undefined));

  const configDir = join(work, 'config');
  const dataDir = join(work, 'data');
  await mkdir(configDir, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  await writeGatewayConfig(configDir);
  gatewayCa = decode(await secret('vault-gateway-tls'), 'ca.crt');
  gateway = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, entryPoint, 'gateway', '--config-dir', configDir, '--data-dir', dataDir, '--listen', `127.0.0.1:${gatewayPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    gateway?.stderr?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('gateway listening')) resolve(); });
    gateway?.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
});

afterAll(async () => {
  gateway?.kill('SIGTERM');
  await operator?.stop();
  await removeTenant(client, tenant);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('operator and gateway together', () => {
  it('shows a customer-custody space as Sealed until a tenant admin unseals it with password and TOTP', async () => {
    const sealed = await eventually('the space to be reported sealed', async () => {
      const space = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
      return space?.status?.phase === 'Sealed' ? space : undefined;
    });
    expect(condition(sealed, 'Sealed')?.status).toBe('True');

    const enrolment = await secret('user-giulia-2fa');
    const totp = new TOTP({ secret: decode(enrolment, 'totpSecret') });
    const withoutCode = await post('/v1/session', { user: 'giulia', password: decode(enrolment, 'password') });
    expect(withoutCode.status).toBe(401);
    const session = await post('/v1/session', { user: 'giulia', password: decode(enrolment, 'password'), code: totp.generate() });
    expect(session.status).toBe(200);
    const token = String(session.json.token);
    expect((await post('/v1/unseal', { password: 'not-the-customer-password' }, token)).status).not.toBe(200);
    expect((await post('/v1/unseal', { password: CUSTOMER_PASSWORD }, token)).status).toBe(200);

    const unsealed = await eventually('the space to be reported unsealed', async () => {
      const space = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
      return space?.status?.phase === 'Ready' ? space : undefined;
    });
    expect(condition(unsealed, 'Sealed')?.status).toBe('False');
  });

  it('takes a real restic backup with the endpoint\'s own credentials, and the operator reports it', async () => {
    const credentials = await secret('endpoint-laptop-credentials');
    const repository = decode(credentials, 'repository');
    expect(repository).toBe('rest:https://127.0.0.1:8443/laptop/');
    const url = repository.replace('rest:https://', `rest:https://laptop:${encodeURIComponent(decode(credentials, 'password'))}@`).replace(':8443/', `:${gatewayPort}/`);
    const source = join(work, 'source');
    await generateTree(source, { randomBytes: 2 * 1024 * 1024, marker: 'E2E-MARKER' });
    const env = { ...process.env, RESTIC_PASSWORD: 'client-side-password' };
    const restic = (...args: string[]) => run('restic', ['--repo', url, '--cacert', join(work, 'ca.crt'), '--cache-dir', join(work, 'cache'), ...args], { env, timeoutMs: 180_000 });
    expectSuccess(await restic('init'), 'restic init');
    expectSuccess(await restic('backup', source), 'restic backup');
    const restoreDir = join(work, 'restore');
    expectSuccess(await restic('restore', 'latest', '--target', restoreDir), 'restic restore');
    expect(await hashTree(join(restoreDir, source))).toEqual(await hashTree(source));

    const endpoint = await eventually('the backup in the endpoint\'s status', async () => {
      const e = await readObject<Endpoint>(client, API.Endpoint, 'laptop', namespace);
      return e?.status?.lastBackupTime && (e.status.bytesStored ?? 0) > 2 * 1024 * 1024 ? e : undefined;
    });
    expect(endpoint.status?.activation).toBe('Active');
    // restic 0.14 names itself only as Go's HTTP client: its version is unknown, so not judged.
    expect(endpoint.status?.agentVersion).toMatch(/^Go-http-client\//);
    expect(endpoint.status?.agentOutdated).toBeUndefined();
    expect(endpoint.status?.stored).toMatch(/Mi$/);
    const space = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
    expect(space?.status?.usedBytes).toBeGreaterThanOrEqual(endpoint.status?.bytesStored ?? 0);
    expect(space?.status?.lastBackupTime).toBe(endpoint.status?.lastBackupTime);
    // Activated: the one-time activation code is gone from the credentials.
    await eventually('the activation code to be removed', async () => ((await secret('endpoint-laptop-credentials')).data?.activationCode === undefined ? true : undefined));

    // A client that names an old version is flagged (S3): here, an old restic asking for its config.
    const auth = Buffer.from(`laptop:${decode(credentials, 'password')}`).toString('base64');
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port: gatewayPort, path: '/laptop/config', method: 'HEAD', ca: gatewayCa, servername: `vault-gateway.${namespace}.svc`, headers: { authorization: `Basic ${auth}`, 'user-agent': 'restic/0.12.1' } }, (response) => {
        response.resume();
        response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`HEAD config: ${response.statusCode}`))));
      }).on('error', reject).end();
    });
    const flagged = await eventually('the old client to be flagged', async () => {
      const e = await readObject<Endpoint>(client, API.Endpoint, 'laptop', namespace);
      return e?.status?.agentOutdated === true ? e : undefined;
    });
    expect(flagged.status?.agentVersion).toBe('restic/0.12.1');
  });
});
