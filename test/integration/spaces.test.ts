/**
 * BackupSpaces, Endpoints and 2FA against the real control plane with simulated nodes in three
 * countries, with the operator running without its webhook (admission bypassed), so the reconcilers'
 * own enforcement is what is tested.
 */
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../../src/api/types.ts';
import { openWithPassword, verifySecret, verifyTotp } from '../../src/crypto/index.ts';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { ZONE_LABEL } from '../harness/topology.ts';
import {
  canGetSecret,
  condition,
  createEndpoint,
  createReadyTenant,
  createSpace,
  ensureDatacenters,
  mergePatch,
  readObject,
  removeTenant,
  waitForCondition,
} from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const tenants: string[] = [];
let operator: OperatorProcess;

const CUSTOMER_PASSWORD = `planted-customer-password-${uniqueName('x')}`;

async function list<T>(path: string): Promise<T[]> {
  return (await client.request<{ items: T[] }>({ method: 'GET', path })).items;
}

async function newTenant(prefix: string, spec: Partial<Tenant['spec']> = {}): Promise<{ name: string; namespace: string }> {
  const name = uniqueName(prefix);
  tenants.push(name);
  return createReadyTenant(client, name, { quotas: { storage: '500Gi', spaces: 4, endpoints: 10 }, ...spec });
}

interface EventItem { type: string; reason: string; note?: string; regarding: { kind?: string; name?: string } }

/** The Warning Event about an object with that reason, once the operator has recorded it. */
async function warningAbout(kind: string, name: string, reason: string, namespace = 'default'): Promise<EventItem> {
  return eventually(`a Warning Event ${reason} about ${kind} ${name}`, async () => (await list<EventItem>(collectionPath(K8S.Event, namespace)))
    .find((e) => e.type === 'Warning' && e.reason === reason && e.regarding.kind === kind && e.regarding.name === name));
}

async function accessConfig(namespace: string, space: string): Promise<GatewayAccessConfig> {
  const secret = await eventually('the gateway configuration', () => readObject<V1Secret>(client, K8S.Secret, `${space}-gateway-config`, namespace));
  return JSON.parse(secretField(secret, 'access.json') ?? '{}') as GatewayAccessConfig;
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test']);
});

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator.stop();
});

describe('a backup space', () => {
  it('runs its gateway only on nodes of its datacenter, each replica on its own node, as the scheduler bound them', async () => {
    const { namespace } = await newTenant('pinning', { residency: { countries: ['IT'] } });
    await createSpace(client, 'main', namespace, { size: '50Gi', datacenter: 'it-mil1', replicas: 3 });
    const space = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'main', namespace, 'Ready', 'True', undefined, 90_000);

    const nodes = new Map((await list<V1Node>(collectionPath(K8S.Node))).map((n) => [n.metadata?.name, n.metadata?.labels?.[ZONE_LABEL]]));
    const pods = (await list<V1Pod>(`${collectionPath(K8S.Pod, namespace)}?labelSelector=tenantbackup.io/space=main`)).filter((p) => !p.metadata?.deletionTimestamp);
    expect(pods).toHaveLength(3);
    const bound = pods.map((p) => p.spec?.nodeName ?? '');
    for (const node of bound) expect(nodes.get(node), `pod on ${node}`).toBe('it-mil1');
    expect(new Set(bound).size).toBe(3);
    expect(space.status).toMatchObject({ phase: 'Ready', datacenter: 'it-mil1', country: 'IT', keyCustody: 'provider', serviceName: 'main-gateway' });
    expect([...(space.status?.nodes ?? [])].sort()).toEqual([...bound].sort());

    // The volume, too, is bound to storage of that datacenter only.
    const claim = await readObject<V1PersistentVolumeClaim>(client, K8S.PersistentVolumeClaim, 'main-data', namespace);
    const volume = await readObject<V1PersistentVolume>(client, { group: '', version: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', namespaced: false }, claim?.spec?.volumeName ?? '');
    expect(volume?.metadata?.labels?.[ZONE_LABEL]).toBe('it-mil1');
    expect(space.status?.keyId).toMatch(/^k1-[0-9a-f]{16}$/);
  });

  it('is refused when admission is bypassed and its datacenter is in a country the tenant does not allow: Stalled, nothing built', async () => {
    const { namespace } = await newTenant('residency', { residency: { countries: ['IT'] } });
    await createSpace(client, 'abroad', namespace, { size: '10Gi', datacenter: 'fr-par1' });
    const space = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'abroad', namespace, 'Stalled', 'True', 'Residency');
    expect(condition(space, 'Stalled')?.message).toContain('spec.datacenter: residency: datacenter fr-par1 is in FR');
    expect(space.status?.phase).toBe('Blocked');
    expect(space.status?.keyId).toBeUndefined();
    const secrets = (await list<V1Secret>(collectionPath(K8S.Secret, namespace))).map((s) => s.metadata?.name);
    expect(secrets.filter((n) => n?.startsWith('abroad-'))).toEqual([]);
    expect(await readObject(client, K8S.Deployment, 'abroad-gateway', namespace)).toBeUndefined();
    expect(await readObject(client, K8S.PersistentVolumeClaim, 'abroad-data', namespace)).toBeUndefined();
  });

  it('is refused when admission is bypassed and asks a fixed address its datacenter has no pool for: Stalled, a Warning Event, no keys (hardening item 18)', async () => {
    const { namespace } = await newTenant('nopool');
    await createSpace(client, 'public', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1, fixedAddress: {} });
    const space = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'public', namespace, 'Stalled', 'True', 'AddressPool');
    const message = 'spec.fixedAddress: address-pool: datacenter it-mil1 has no address pool, so it has no fixed address to give; remove fixedAddress, or choose a datacenter with an address pool';
    expect(condition(space, 'Stalled')?.message).toBe(message);
    expect((await warningAbout('BackupSpace', 'public', 'AddressPool', namespace)).note).toBe(message);
    // Nothing built: no key Secret, no volume.
    expect(space.status?.keyId).toBeUndefined();
    expect(await readObject(client, K8S.Secret, 'public-key', namespace)).toBeUndefined();
    expect(await readObject(client, K8S.PersistentVolumeClaim, 'public-data', namespace)).toBeUndefined();
  });

  it('exposes a fixed address of its datacenter\'s pool', async () => {
    const { namespace } = await newTenant('fixed');
    await mergePatch(client, API.Datacenter, 'it-rom1', undefined, { spec: { addressPool: { addresses: ['198.51.100.8/30'] } } });
    await createSpace(client, 'public', namespace, { size: '10Gi', datacenter: 'it-rom1', replicas: 1, fixedAddress: {} });
    const space = await eventually('an address', async () => {
      const s = await readObject<BackupSpace>(client, API.BackupSpace, 'public', namespace);
      return s?.status?.address ? s : undefined;
    });
    expect(['198.51.100.9', '198.51.100.10']).toContain(space.status?.address);
    const service = await eventually('the gateway Service', () => readObject<V1Service>(client, K8S.Service, 'public-gateway', namespace));
    expect(service.spec?.type).toBe('LoadBalancer');
    expect(service.spec?.loadBalancerIP).toBe(space.status?.address);
  });
});

describe('a storage quota lowered below what the spaces hold, with admission bypassed (hardening item 5)', () => {
  it('keeps the existing space Ready with its upkeep, refuses a new or grown space, and says so on the Tenant', async () => {
    const { name, namespace } = await newTenant('lowered', { quotas: { storage: '30Gi', spaces: 4, endpoints: 10 } });
    await createSpace(client, 'kept', namespace, { size: '20Gi', datacenter: 'it-mil1', replicas: 1 });
    await waitForCondition<BackupSpace>(client, API.BackupSpace, 'kept', namespace, 'Ready', 'True', undefined, 90_000);
    const certificate = await readObject<V1Secret>(client, K8S.Secret, 'kept-gateway-tls', namespace);

    // The webhook would refuse this; without it, the quota is lowered below the 20Gi the space holds.
    await mergePatch(client, API.Tenant, name, undefined, { spec: { quotas: { storage: '10Gi' } } });
    const tenant = await waitForCondition<Tenant>(client, API.Tenant, name, undefined, 'QuotaExceeded', 'True', 'StorageOverQuota');
    const said = `spec.quotas.storage: quota: tenant ${name}'s 1 space(s) hold 20Gi: ${namespace}/kept (20Gi), more than its storage quota of 10Gi. Existing spaces keep running at their size; no space may grow and no new space is admitted until the quota is at least 20Gi or spaces are deleted`;
    expect(condition(tenant, 'QuotaExceeded')?.message).toBe(said);
    expect((await warningAbout('Tenant', name, 'QuotaExceeded')).note).toBe(said);

    // Upkeep goes on: a new device reaches the access configuration, a lost certificate is issued again.
    await createEndpoint(client, 'laptop', namespace, 'kept');
    await eventually('the new endpoint in the access configuration', async () => ((await accessConfig(namespace, 'kept')).endpoints.some((e) => e.name === 'laptop') ? true : undefined));
    await client.request({ method: 'DELETE', path: objectPath(K8S.Secret, 'kept-gateway-tls', namespace) });
    await eventually('the certificate to be issued again', async () => {
      const secret = await readObject<V1Secret>(client, K8S.Secret, 'kept-gateway-tls', namespace);
      return secret && secret.metadata?.uid !== certificate?.metadata?.uid ? true : undefined;
    });
    const kept = await readObject<BackupSpace>(client, API.BackupSpace, 'kept', namespace);
    expect(condition(kept, 'Ready')?.status).toBe('True');
    expect(condition(kept, 'Stalled')).toBeUndefined();

    // A restore from a backup brings objects back without status: what the space holds is read from
    // its volume claim, so it is still allowed to run, not taken for a new space over the quota.
    await client.request({ method: 'PATCH', path: objectPath(API.BackupSpace, 'kept', namespace, 'status'), body: { status: null }, contentType: CONTENT_TYPE.merge });
    const restored = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'kept', namespace, 'Ready', 'True');
    expect(condition(restored, 'Stalled')).toBeUndefined();
    expect(restored.status?.keyId).toBe(kept?.status?.keyId);

    // What would take more storage is refused: a new space gets nothing, a grown one is Stalled.
    await createSpace(client, 'extra', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1 });
    const extra = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'extra', namespace, 'Stalled', 'True', 'Quota');
    expect(condition(extra, 'Stalled')?.message).toBe(`spec.size: quota: tenant ${name}'s storage quota is 10Gi: its other spaces use 20Gi and this space asks for 1Gi, 21Gi in all (0 left)`);
    expect(await readObject(client, K8S.Secret, 'extra-key', namespace)).toBeUndefined();
    await mergePatch(client, API.BackupSpace, 'kept', namespace, { spec: { size: '25Gi' } });
    const grown = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'kept', namespace, 'Stalled', 'True', 'Quota');
    expect(condition(grown, 'Stalled')?.message).toContain('this space asks for 25Gi');
    const volume = await readObject<V1PersistentVolumeClaim>(client, K8S.PersistentVolumeClaim, 'kept-data', namespace);
    expect(volume?.spec?.resources?.requests?.storage).toBe('20Gi');
  });
});

describe('keys', () => {
  it('wraps the data key with the customer\'s password, deletes the password, and stores nothing plain', async () => {
    const { namespace } = await newTenant('custody', { security: { keyCustody: 'customer', twoFactor: 'Optional' } });
    await client.request({ method: 'POST', path: collectionPath(K8S.Secret, namespace), body: { metadata: { name: 'vault-password' }, stringData: { password: CUSTOMER_PASSWORD } } });
    await createSpace(client, 'vault', namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1, encryption: { keyCustody: 'customer', customerPasswordSecretRef: { name: 'vault-password' } } });
    const space = await eventually('the customer key', async () => {
      const s = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
      return s?.status?.keyId ? s : undefined;
    });
    expect(space.status?.keyCustody).toBe('customer');
    await eventually('the password Secret to be deleted', async () => (await readObject(client, K8S.Secret, 'vault-password', namespace)) === undefined ? true : undefined);

    // The stored record opens with the password, and yields the key the status names.
    const keySecret = await readObject<V1Secret>(client, K8S.Secret, 'vault-key', namespace);
    const record = JSON.parse(secretField(keySecret, 'record') ?? '{}');
    const dataKey = await openWithPassword(CUSTOMER_PASSWORD, record, space.metadata.uid ?? '');
    // Neither the password nor the data key is anywhere in the namespace, the cluster's events or the logs.
    const plain = [CUSTOMER_PASSWORD, dataKey.toString('base64'), dataKey.toString('hex'), dataKey.toString('base64url')];
    const everything = JSON.stringify([
      ...(await list(collectionPath(K8S.Secret, namespace))),
      ...(await list(collectionPath(K8S.ConfigMap, namespace))),
      ...(await list(collectionPath(API.BackupSpace, namespace))),
      ...(await list(collectionPath(K8S.Deployment, namespace))),
      ...(await list(collectionPath(K8S.Event))),
    ]);
    const decodedSecrets = (await list<V1Secret>(collectionPath(K8S.Secret, namespace))).flatMap((s) => Object.keys(s.data ?? {}).map((k) => secretField(s, k) ?? '')).join('\n');
    const logs = await operator.logText();
    for (const value of plain) {
      expect(everything).not.toContain(value);
      expect(decodedSecrets).not.toContain(value);
      expect(logs).not.toContain(value);
    }
    const access = await accessConfig(namespace, 'vault');
    expect(access.space.keyCustody).toMatchObject({ mode: 'customer', keyId: space.status?.keyId, record });
    expect((await readObject<V1Secret>(client, K8S.Secret, 'vault-gateway-config', namespace))?.data?.['data.key']).toBeUndefined();
  });

  it('does not make a new key when the key Secret is deleted by hand, and says so', async () => {
    const { namespace } = await newTenant('keyloss');
    await createSpace(client, 'fragile', namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1 });
    const space = await eventually('a key', async () => {
      const s = await readObject<BackupSpace>(client, API.BackupSpace, 'fragile', namespace);
      return s?.status?.keyId ? s : undefined;
    });
    await client.request({ method: 'DELETE', path: objectPath(K8S.Secret, 'fragile-key', namespace) });
    const stalled = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'fragile', namespace, 'Stalled', 'True', 'KeyMissing');
    expect(condition(stalled, 'Stalled')?.message).toContain(space.status?.keyId ?? 'missing');
    expect(stalled.status?.keyId).toBe(space.status?.keyId);
    // Give the operator time to (wrongly) regenerate; it must not.
    await new Promise((done) => setTimeout(done, 3000));
    expect(await readObject(client, K8S.Secret, 'fragile-key', namespace)).toBeUndefined();
  });

  it('crypto-shreds a deleted space: its keys go first', async () => {
    const { namespace } = await newTenant('shred');
    await createSpace(client, 'old', namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1 });
    await eventually('a key', async () => (await readObject(client, K8S.Secret, 'old-key', namespace)) ?? undefined);
    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, 'old', namespace) });
    await eventually('the space and its keys to be gone', async () => {
      const gone = !(await readObject(client, API.BackupSpace, 'old', namespace)) && !(await readObject(client, K8S.Secret, 'old-key', namespace)) && !(await readObject(client, K8S.Secret, 'old-gateway-config', namespace));
      return gone ? true : undefined;
    });
  });
});

describe('endpoints', () => {
  it('each get their own credentials, of which only a slow hash reaches the gateway', async () => {
    const { namespace } = await newTenant('devices', { users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }] });
    await createSpace(client, 'main', namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1 });
    await createEndpoint(client, 'laptop', namespace, 'main', { kind: 'Desktop', os: 'Windows' });
    await createEndpoint(client, 'server', namespace, 'main', { suspended: true });
    const laptop = await waitForCondition<Endpoint>(client, API.Endpoint, 'laptop', namespace, 'Ready', 'True', undefined, 90_000);
    // The repository path is keyed by the endpoint's uid: a later Endpoint of the same name never opens it.
    const repository = `endpoints/laptop.${(laptop.metadata.uid ?? '').replace(/[^a-zA-Z0-9]/g, '').slice(0, 12)}`;
    expect(laptop.status).toMatchObject({ credentialsSecretName: 'endpoint-laptop-credentials', activation: 'Pending', repository });
    expect(laptop.status?.url).toBe(`rest:https://main-gateway.${namespace}.svc:8443/laptop/`);
    const credentials = await readObject<V1Secret>(client, K8S.Secret, 'endpoint-laptop-credentials', namespace);
    const password = secretField(credentials, 'password') ?? '';
    expect(password.length).toBeGreaterThanOrEqual(43);
    expect(secretField(credentials, 'activationCode')).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);

    const access = await eventually('both endpoints in the access configuration', async () => {
      const config = await accessConfig(namespace, 'main');
      return config.endpoints.length === 2 ? config : undefined;
    });
    const entry = access.endpoints.find((e) => e.name === 'laptop');
    expect(entry).toMatchObject({ repository, enabled: true });
    expect(await verifySecret(password, entry?.credentialHash ?? '')).toBe(true);
    expect(JSON.stringify(access)).not.toContain(password);
    expect(access.endpoints.find((e) => e.name === 'server')?.enabled).toBe(false);
    const suspended = await readObject<Endpoint>(client, API.Endpoint, 'server', namespace);
    expect(suspended?.status?.activation).toBe('Suspended');

    // Admins may read the devices' credentials, by name; viewers may not.
    const allowed = (user: string, secretName: string) => canGetSecret(client, user, namespace, secretName);
    await eventually('giulia to be able to read the credentials', async () => ((await allowed('giulia@example.com', 'endpoint-laptop-credentials')) ? true : undefined));
    expect(await allowed('giulia@example.com', 'main-key')).toBe(false);
    expect(await allowed('someone@example.com', 'endpoint-laptop-credentials')).toBe(false);
  });

  it('is Stalled when its space is in another namespace or missing', async () => {
    const { namespace } = await newTenant('strays');
    await createEndpoint(client, 'elsewhere', namespace, 'main', { spaceRef: { name: 'main', namespace: 'tenant-someone-else' } });
    await createEndpoint(client, 'orphan', namespace, 'nowhere');
    const elsewhere = await waitForCondition<Endpoint>(client, API.Endpoint, 'elsewhere', namespace, 'Stalled', 'True', 'SpaceInOtherNamespace');
    expect(condition(elsewhere, 'Stalled')?.message).toContain('spec.spaceRef.namespace');
    const orphan = await waitForCondition<Endpoint>(client, API.Endpoint, 'orphan', namespace, 'Stalled', 'True', 'SpaceNotFound');
    expect(condition(orphan, 'Stalled')?.message).toContain('nowhere');
    // Said in Events too (hardening item 18), not only in status.
    expect((await warningAbout('Endpoint', 'orphan', 'SpaceNotFound', namespace)).note).toBe(condition(orphan, 'Stalled')?.message);
    expect((await warningAbout('Endpoint', 'elsewhere', 'SpaceInOtherNamespace', namespace)).note).toContain('spec.spaceRef.namespace');
    expect(await readObject(client, K8S.Secret, 'endpoint-orphan-credentials', namespace)).toBeUndefined();
  });
});

describe('two-factor access', () => {
  it('enrols each person with a TOTP only they can read, and re-renders the gateway policy when it changes', async () => {
    const { name, namespace } = await newTenant('people', {
      security: { twoFactor: 'Required' },
      users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }, { name: 'marco', email: 'marco@example.com', role: 'viewer' }],
    });
    await createSpace(client, 'main', namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1 });
    const enrolment = await eventually('giulia\'s enrolment', () => readObject<V1Secret>(client, K8S.Secret, 'user-giulia-2fa', namespace));
    const uri = secretField(enrolment, 'otpauthUri') ?? '';
    const secret = secretField(enrolment, 'totpSecret') ?? '';
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    expect(uri).toContain(`secret=${secret}`);
    expect(Buffer.from(enrolment.data?.['qr.png'] ?? '', 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

    const allowed = (user: string, secretName: string) => canGetSecret(client, user, namespace, secretName);
    await eventually('giulia to be able to read her enrolment', async () => ((await allowed('giulia@example.com', 'user-giulia-2fa')) ? true : undefined));
    expect(await allowed('marco@example.com', 'user-giulia-2fa')).toBe(false);
    expect(await allowed('giulia@example.com', 'user-marco-2fa')).toBe(false);

    const access = await eventually('both people in the gateway policy', async () => {
      const config = await accessConfig(namespace, 'main');
      return config.humans.users.length === 2 ? config : undefined;
    });
    expect(access.humans.policy).toBe('two-factor');
    const giulia = access.humans.users.find((u) => u.name === 'giulia');
    expect(giulia?.totpSecret).toBe(secret);
    expect(await verifySecret(secretField(enrolment, 'password') ?? '', giulia?.passwordHash ?? '')).toBe(true);
    // What an authenticator app makes of the enrolment's URI (otpauth, not our code) is what the
    // gateway's verifier accepts, and a code one step in the future is not.
    const app = URI.parse(uri);
    const now = Date.now();
    const code = app.generate({ timestamp: now });
    expect(verifyTotp(secret, code, { now })).toBe(true);
    expect(verifyTotp(secret, app.generate({ timestamp: now + 90_000 }), { now })).toBe(false);

    await mergePatch(client, API.Tenant, name, undefined, { spec: { security: { twoFactor: 'Disabled' } } });
    await eventually('human access to be disabled', async () => {
      const config = await accessConfig(namespace, 'main');
      return config.humans.policy === 'disabled' && config.humans.users.length === 0 ? true : undefined;
    });
    await eventually('the enrolments to be removed', async () => ((await readObject(client, K8S.Secret, 'user-giulia-2fa', namespace)) ? undefined : true));
  });
});
