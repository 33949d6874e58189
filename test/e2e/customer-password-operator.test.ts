/**
 * Customer custody is customer-only (issue 12 item 8): a customer-custody space needs no password
 * Secret. On the real API server the operator builds the space with no data key; a real gateway
 * process on what the operator rendered waits sealed until a tenant admin, signed in with password
 * and a real TOTP code, sets the space password (POST /v1/password). The gateway makes the key and
 * reports only its wrapped record, which the operator stores in the key Secret; the space unseals
 * and the real restic client backs up. The password is changed (the old one required, the key
 * re-wrapped): after a restart the old password no longer unseals, the new one does, and the
 * backup is still there. No Secret, ConfigMap, Event or status in the cluster, nor the operator's
 * or gateway's log, holds either password.
 */
import { access as exists, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import type { CustomerKeyCustody, GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { ZONE_LABEL } from '../harness/topology.ts';
import { freePorts } from '../harness/ports.ts';
import { condition, createEndpoint, createObject, createReadyTenant, createSpace, ensureDatacenters, eventualSecret, readObject, removeTenant, requiredSecretField } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { datacenter } from '../support/objects.ts';
import { OperatorProcess } from '../support/operator.ts';
import { GatewayFixture, expectSuccess, restic, type FetchResult, type Secrets } from './gateway-fixture.ts';
import { writeRenderedGatewayFiles } from './operator-rendered.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const tenant = uniqueName('selfpw');
const namespace = `tenant-${tenant}`;
// A datacenter of this file only, with a loopback pool: the certificate the operator issues names 127.0.0.1.
const DATACENTER = uniqueName('selfpw-dc');
const FIRST_PASSWORD = `first-space-password-${uniqueName('p')}`;
const SECOND_PASSWORD = `second-space-password-${uniqueName('p')}`;

let operator: OperatorProcess;
let gateway: GatewayFixture;
let work: string;
let token: string;
/** What the gateway logged before it was restarted (a restart starts its log afresh). */
let earlierGatewayLogs = '';

const stagedFile = (): string => join(work, 'data', '.tenant-backup', 'customer-key', 'customer-key.json');
const fileExists = (path: string): Promise<boolean> => exists(path).then(() => true, () => false);

function post(path: string, body: unknown): Promise<FetchResult> {
  return gateway.fetch(path, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function spaceWhere(what: string, test: (space: BackupSpace) => boolean): Promise<BackupSpace> {
  return eventually(what, async () => {
    const space = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
    return space && test(space) ? space : undefined;
  }, { timeoutMs: 60_000 });
}

/** The rendered access configuration once its custody satisfies `test`, handed to the gateway (as the kubelet swaps a mounted Secret). */
async function deliverRendered(what: string, test: (custody: CustomerKeyCustody) => boolean): Promise<GatewayAccessConfig> {
  const access = await eventually(what, async () => {
    const config = await readObject<V1Secret>(client, K8S.Secret, 'vault-gateway-config', namespace);
    const rendered = config ? JSON.parse(requiredSecretField(config, 'access.json')) as GatewayAccessConfig : undefined;
    const custody = rendered?.space.keyCustody;
    return custody?.mode === 'customer' && test(custody) ? rendered : undefined;
  }, { timeoutMs: 60_000 });
  await gateway.writeAccess(access);
  return access;
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await createObject(client, API.Datacenter, datacenter(DATACENTER, 'IT', { nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-rom1' } }, addressPool: { addresses: ['127.0.0.1'] } }));
  work = await mkdtemp(join(tmpdir(), 'customer-password-operator-'));
  const [port] = await freePorts(1);
  const operatorNamespace = uniqueName('tb-system');
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--report-interval', '1s', '--gateway-address', `${namespace}/vault=127.0.0.1:${port}`]);
  await createReadyTenant(client, tenant, {
    residency: { countries: ['IT'] },
    quotas: { storage: '100Gi', spaces: 1, endpoints: 1 },
    security: { twoFactor: 'Required', keyCustody: 'customer' },
    users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }],
  });
  // No customerPasswordSecretRef: nobody but the customer ever handles the password.
  await createSpace(client, 'vault', namespace, { size: '5Gi', datacenter: DATACENTER, replicas: 1, fixedAddress: { ip: '127.0.0.1' }, encryption: { atRest: true } });
  await createEndpoint(client, 'laptop', namespace, 'vault', { kind: 'Desktop', os: 'Linux' });
  await eventually('the endpoint in the rendered configuration', async () => {
    const config = await readObject<V1Secret>(client, K8S.Secret, 'vault-gateway-config', namespace);
    return config && requiredSecretField(config, 'access.json').includes('"laptop"') ? true : undefined;
  });
  const access = await writeRenderedGatewayFiles(client, namespace, 'vault', work);
  const enrolment = await eventualSecret(client, namespace, 'user-giulia-2fa');
  const secrets: Secrets = {
    endpoints: { laptop: requiredSecretField(await eventualSecret(client, namespace, 'endpoint-laptop-credentials'), 'password') },
    maintenance: { username: 'maintenance', secret: requiredSecretField(await eventualSecret(client, namespace, 'vault-maintenance'), 'password') },
    reportToken: requiredSecretField(await eventualSecret(client, namespace, 'vault-report-token'), 'password'),
    users: { giulia: { password: requiredSecretField(enrolment, 'password'), totpSecret: requiredSecretField(enrolment, 'totpSecret') } },
    customerPassword: '',
    dataKey: Buffer.alloc(0),
    peerToken: '',
  };
  gateway = await GatewayFixture.onConfig(work, access, secrets, { port });
});

afterAll(async () => {
  await gateway?.close();
  await operator?.stop();
  await removeTenant(client, tenant);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a customer-custody space whose password the customer sets at the gateway', () => {
  it('is built with no data key and waits sealed for the customer', async () => {
    const access = await writeRenderedGatewayFiles(client, namespace, 'vault', join(work, 'rendered-now'));
    expect(access.space.keyCustody).toEqual({ mode: 'customer' });
    const keySecret = await eventualSecret(client, namespace, 'vault-key');
    expect(secretField(keySecret, 'custody')).toBe('customer');
    expect(secretField(keySecret, 'keyId')).toBeUndefined();
    expect(secretField(keySecret, 'record')).toBeUndefined();
    const sealed = await spaceWhere('the space reported sealed', (s) => s.status?.phase === 'Sealed');
    expect(condition(sealed, 'KeyReady')).toMatchObject({ status: 'False', reason: 'AwaitingCustomerPassword' });
    expect((await gateway.fetch('/laptop/config', { headers: gateway.endpointAuth('laptop') })).status).toBe(503);
  });

  it('is set by a tenant admin signed in with password and TOTP; the space unseals and restic backs up', async () => {
    token = await gateway.signIn('giulia', gateway.totpCode('giulia'));
    expect((await post('/v1/password', { newPassword: 'too short' })).status).toBe(400);
    const set = await post('/v1/password', { newPassword: FIRST_PASSWORD });
    expect(set.status, set.text).toBe(200);
    expect(JSON.parse(set.text)).toMatchObject({ state: 'ready', recordVersion: 1 });
    expect(set.text).not.toContain(FIRST_PASSWORD);
    // A second first-time set is refused: there is one data key.
    expect((await post('/v1/password', { newPassword: SECOND_PASSWORD })).status).toBe(409);

    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'notes.txt'), 'set by the customer\n'.repeat(5000));
    expectSuccess(await restic(gateway, gateway.repositoryUrl('laptop'), ['init']), 'restic init');
    expectSuccess(await restic(gateway, gateway.repositoryUrl('laptop'), ['backup', source]), 'restic backup');

    // The operator stores the reported record in the key Secret; back in the configuration, the volume's copy goes.
    const keySecret = await eventually('the record in the key Secret', async () => {
      const secret = await readObject<V1Secret>(client, K8S.Secret, 'vault-key', namespace);
      return secretField(secret, 'recordVersion') === '1' ? secret : undefined;
    });
    const keyId = requiredSecretField(keySecret, 'keyId');
    expect(JSON.parse(set.text)).toMatchObject({ keyId });
    await deliverRendered('the record in the rendered configuration', (c) => c.recordVersion === 1);
    await eventually('the volume\'s copy of the record to be removed', async () => ((await fileExists(stagedFile())) ? undefined : true), { timeoutMs: 20_000 });
    const ready = await spaceWhere('the space Ready with its key', (s) => s.status?.phase === 'Ready' && s.status.keyId === keyId);
    expect(condition(ready, 'KeyReady')).toMatchObject({ status: 'True', reason: 'CustomerHeld' });
  });

  it('is changed with the old password: the key is re-wrapped, the old password no longer unseals, the new one does, the data stays', async () => {
    expect((await post('/v1/password', { oldPassword: `${FIRST_PASSWORD}-wrong`, newPassword: SECOND_PASSWORD })).status).toBe(401);
    expect((await post('/v1/password', { newPassword: SECOND_PASSWORD })).status).toBe(409);
    // Read before the change: the operator may store the new record before the response is read.
    const before = await readObject<V1Secret>(client, K8S.Secret, 'vault-key', namespace);
    const changed = await post('/v1/password', { oldPassword: FIRST_PASSWORD, newPassword: SECOND_PASSWORD });
    expect(changed.status, changed.text).toBe(200);
    expect(JSON.parse(changed.text)).toMatchObject({ state: 'ready', recordVersion: 2 });
    await eventually('the re-wrapped record in the key Secret', async () => {
      const secret = await readObject<V1Secret>(client, K8S.Secret, 'vault-key', namespace);
      return secretField(secret, 'recordVersion') === '2' ? secret : undefined;
    });
    const after = await readObject<V1Secret>(client, K8S.Secret, 'vault-key', namespace);
    expect(secretField(after, 'keyId')).toBe(secretField(before, 'keyId'));
    expect(secretField(after, 'record')).not.toBe(secretField(before, 'record'));
    await deliverRendered('the re-wrapped record in the rendered configuration', (c) => c.recordVersion === 2);
    await eventually('the volume\'s copy of the record to be removed', async () => ((await fileExists(stagedFile())) ? undefined : true), { timeoutMs: 20_000 });

    // A restarted gateway is sealed and knows only what the operator rendered.
    expect(await gateway.stopProcess()).toBe(0);
    earlierGatewayLogs = gateway.logs;
    await gateway.startProcess();
    expect((await gateway.fetch('/laptop/config', { headers: gateway.endpointAuth('laptop') })).status).toBe(503);
    const old = await post('/v1/unseal', { password: FIRST_PASSWORD });
    expect(old.status, old.text).toBe(401);
    const unsealed = await post('/v1/unseal', { password: SECOND_PASSWORD });
    expect(unsealed.status, unsealed.text).toBe(200);
    const listed = expectSuccess(await restic(gateway, gateway.repositoryUrl('laptop'), ['snapshots', '--json', '--no-lock']), 'restic snapshots');
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    const target = join(work, 'restored');
    expectSuccess(await restic(gateway, gateway.repositoryUrl('laptop'), ['restore', 'latest', '--target', target]), 'restic restore');
    expect(await readFile(join(target, work, 'source', 'notes.txt'), 'utf8')).toBe('set by the customer\n'.repeat(5000));
  });

  it('leaves neither password in any Secret, ConfigMap, Event or status of the cluster, nor in the logs', async () => {
    const list = (ref: typeof K8S.Secret) => client.request<{ items: unknown[] }>({ method: 'GET', path: collectionPath(ref) });
    const secrets = (await list(K8S.Secret)).items as V1Secret[];
    // Secret values decoded, so that a base64-encoded password is found too.
    const decoded = secrets.map((s) => Object.keys(s.data ?? {}).map((k) => secretField(s, k) ?? '').join('\n'));
    const everything = [
      ...decoded,
      JSON.stringify(secrets),
      JSON.stringify(await list(K8S.ConfigMap)),
      JSON.stringify(await list(K8S.Event)),
      JSON.stringify(await client.request({ method: 'GET', path: '/api/v1/events' })),
      JSON.stringify(await list(API.BackupSpace)),
      JSON.stringify(await list(API.Tenant)),
      JSON.stringify(await list(API.Endpoint)),
      await operator.logText(),
      earlierGatewayLogs,
      gateway.logs,
    ].join('\n');
    expect(everything).toContain('CustomerPasswordChanged');
    for (const password of [FIRST_PASSWORD, SECOND_PASSWORD]) {
      expect(everything).not.toContain(password);
      expect(everything).not.toContain(Buffer.from(password).toString('base64'));
    }
  });
});
