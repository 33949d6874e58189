/**
 * The validating admission webhook against the real API server: the operator runs as a process on
 * loopback, registers itself by URL with the CA it keeps in its namespace, and the API server calls it
 * for every BackupSpace, Endpoint and Tenant write and Datacenter edit and deletion. What kubectl users see on
 * a refusal is checked word for word; TLS below 1.2 is refused; a deleted serving certificate is
 * re-issued and the webhook keeps working.
 */
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { connect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../src/api/types.ts';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { DATACENTER_STORAGE_CLASS, ZONE_LABEL } from '../harness/topology.ts';
import { condition, createIfAbsent, createObject, createReadyTenant, ensureDatacenters, forCreate, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { kubectl } from '../support/kubectl.ts';
import { clients, eventually, refused as refusal, uniqueName } from '../support/kube.ts';
import { datacenter as datacenterObject, endpoint as endpointObject, space as spaceObject } from '../support/objects.ts';
import { startWebhookOperator, type OperatorProcess } from '../support/operator.ts';

const exec = promisify(execFile);
const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-webhook');
const tenants: string[] = [];
const extraDatacenters: string[] = [];
let operator: OperatorProcess;
let port: number;

const VWC = 'tenant-backup-operator';
const SERVING_SECRET = 'tenant-backup-webhook-tls';
const CA_SECRET = 'tenant-backup-operator-ca';

function deniedBy(resource: string, message: string): string {
  return `admission webhook "validate.${resource}.tenantbackup.io" denied the request: ${message}`;
}

async function newTenant(prefix: string, spec: Partial<Tenant['spec']> = {}): Promise<{ name: string; namespace: string }> {
  const name = uniqueName(prefix);
  tenants.push(name);
  return createReadyTenant(client, name, { quotas: { storage: '100Gi', spaces: 5, endpoints: 5 }, ...spec });
}

function handshake(options: ConnectionOptions): Promise<{ protocol?: string | null; fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), fingerprint: socket.getPeerX509Certificate()?.fingerprint256 });
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

/** A datacenter of its own for one test, on the nodes of a simulated one. */
async function ensureDatacenter(name: string, country: string, zone: string, spec: Partial<Datacenter['spec']> = {}): Promise<void> {
  await createIfAbsent(client, API.Datacenter, datacenterObject(name, country, { nodeSelector: { matchLabels: { [ZONE_LABEL]: zone } }, ...spec }));
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await createObject(client, K8S.Namespace, { metadata: { name: operatorNamespace } });
  ({ operator, port } = await startWebhookOperator(kubeconfigPath, client, ['--namespace', operatorNamespace]));
});

afterAll(async () => {
  await operator?.stop();
  // A webhook that fails closed must not outlive its operator: it would refuse every later test's objects.
  await client.request({ method: 'DELETE', path: objectPath(K8S.ValidatingWebhookConfiguration, VWC) }).catch(() => undefined);
  for (const name of tenants) await removeTenant(client, name);
  for (const name of extraDatacenters) await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, name) }).catch(() => undefined);
});

describe('registration', () => {
  it('registers every webhook by URL with the CA kept in the operator namespace, failing closed', async () => {
    const vwc = await readObject<{ webhooks: { name: string; failurePolicy: string; sideEffects: string; admissionReviewVersions: string[]; clientConfig: { url?: string; caBundle?: string }; rules: { operations: string[]; resources: string[] }[] }[] }>(client, K8S.ValidatingWebhookConfiguration, VWC);
    const ca = await readObject<V1Secret>(client, K8S.Secret, CA_SECRET, operatorNamespace);
    expect(ca?.type).toBe('kubernetes.io/tls');
    expect(secretField(ca, 'ca.crt')).toBe(secretField(ca, 'tls.crt'));
    const hooks = vwc?.webhooks ?? [];
    expect(hooks.map((h) => [h.name, h.rules[0]?.operations, h.clientConfig.url])).toEqual([
      ['validate.backupspaces.tenantbackup.io', ['CREATE', 'UPDATE', 'DELETE'], `https://127.0.0.1:${port}/validate/backupspaces`],
      ['validate.endpoints.tenantbackup.io', ['CREATE', 'UPDATE', 'DELETE'], `https://127.0.0.1:${port}/validate/endpoints`],
      ['validate.tenants.tenantbackup.io', ['CREATE', 'UPDATE'], `https://127.0.0.1:${port}/validate/tenants`],
      ['validate.datacenters.tenantbackup.io', ['UPDATE', 'DELETE'], `https://127.0.0.1:${port}/validate/datacenters`],
    ]);
    for (const hook of hooks) {
      expect(hook).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'] });
      expect(Buffer.from(hook.clientConfig.caBundle ?? '', 'base64').toString()).toBe(secretField(ca, 'ca.crt'));
    }
    const serving = await readObject<V1Secret>(client, K8S.Secret, SERVING_SECRET, operatorNamespace);
    const certificate = new X509Certificate(secretField(serving, 'tls.crt') ?? '');
    expect(certificate.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(certificate.subjectAltName).toContain(`DNS:tenant-backup-webhook.${operatorNamespace}.svc`);
    expect(certificate.verify(new X509Certificate(secretField(ca, 'ca.crt') ?? '').publicKey)).toBe(true);
  });
});

describe('backup spaces', () => {
  let acme: { name: string; namespace: string };

  beforeAll(async () => {
    acme = await newTenant('acme', { residency: { countries: ['IT'] }, quotas: { storage: '20Gi', spaces: 5, endpoints: 5 } });
  });

  it('refuses a space in a country the tenant does not allow, naming the field and the rule', async () => {
    const refused = await refusal(createObject(client, API.BackupSpace, spaceObject('in-germany', acme.namespace, { datacenter: 'de-fra1' })));
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.datacenter: residency: datacenter de-fra1 is in DE, but tenant ${acme.name} allows only IT`));
    expect(await readObject(client, API.BackupSpace, 'in-germany', acme.namespace)).toBeUndefined();
  });

  it('shows kubectl users the same words', async () => {
    const manifest = JSON.stringify(forCreate(spaceObject('by-kubectl', acme.namespace, { datacenter: 'fr-par1' })));
    const result = await kubectl(kubeconfigPath, ['apply', '-f', '-'], manifest);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(deniedBy('backupspaces', `spec.datacenter: residency: datacenter fr-par1 is in FR, but tenant ${acme.name} allows only IT`));
  });

  it('admits a space in an allowed datacenter', async () => {
    const admitted = await createObject<BackupSpace>(client, API.BackupSpace, spaceObject('in-milan', acme.namespace, { datacenter: 'it-mil1', size: '10Gi' }));
    expect(admitted.metadata.uid).toBeTruthy();
  });

  it('refuses a space that would exceed the tenant\'s storage quota, saying used, requested and limit', async () => {
    await eventually('the first space to be in the webhook\'s cache', async () => {
      const { message } = await refusal(createObject(client, API.BackupSpace, spaceObject('too-big', acme.namespace, { size: '15Gi' }), { dryRun: true }));
      return message.includes('other spaces use 10Gi') ? message : undefined;
    });
    const refused = await refusal(createObject(client, API.BackupSpace, spaceObject('too-big', acme.namespace, { size: '15Gi' })));
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.size: quota: tenant ${acme.name}'s storage quota is 20Gi: its other spaces use 10Gi and this space asks for 15Gi, 25Gi in all (10Gi left)`));
    // What fits is admitted, in binary or decimal units.
    await createObject(client, API.BackupSpace, spaceObject('fits', acme.namespace, { size: '10Gi' }), { dryRun: true });
  });

  it('refuses lowering the tenant\'s storage quota below what its spaces hold, naming the field, the sum and the spaces (hardening item 5)', async () => {
    const lower = (storage: string, dryRun: boolean) => client.request({ method: 'PATCH', path: objectPath(API.Tenant, acme.name), body: { spec: { quotas: { storage } } }, contentType: CONTENT_TYPE.merge, ...(dryRun ? { query: { dryRun: 'All' } } : {}) });
    await eventually('the webhook to see the space', async () => {
      const result = await refusal(lower('5Gi', true));
      return result.message.includes('quota-change') ? result : undefined;
    });
    const refused = await refusal(lower('5Gi', false));
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('tenants', `spec.quotas.storage: quota-change: tenant ${acme.name}'s 1 space(s) hold 10Gi: ${acme.namespace}/in-milan (10Gi), more than the new storage quota of 5Gi; a space cannot shrink, so lower the quota to no less than 10Gi, or delete spaces first`));
    expect((await readObject<Tenant>(client, API.Tenant, acme.name))?.spec.quotas.storage).toBe('20Gi');
    // Down to exactly what the spaces hold is a quota that can be kept.
    await lower('10Gi', true);
  });

  it('judges only what an update changes: metadata always passes, growth past the quota does not', async () => {
    const refused = await refusal(mergePatch(client, API.BackupSpace, 'in-milan', acme.namespace, { spec: { size: '21Gi' } }));
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.size: quota: tenant ${acme.name}'s storage quota is 20Gi: its other spaces use 0 and this space asks for 21Gi, 21Gi in all (20Gi left)`));
    await mergePatch(client, API.BackupSpace, 'in-milan', acme.namespace, { metadata: { labels: { team: 'finance' } } });
  });

  it('refuses a space that downgrades the tenant\'s customer key custody', async () => {
    const vault = await newTenant('vault', { security: { keyCustody: 'customer', twoFactor: 'Optional' } });
    const refused = await refusal(createObject(client, API.BackupSpace, spaceObject('weak', vault.namespace, { encryption: { keyCustody: 'provider' } })));
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.encryption.keyCustody: custody: tenant ${vault.name} requires customer key custody, so its spaces cannot use provider custody; remove keyCustody or set it to customer`));
  });

  it('refuses more than one replica on ReadWriteOnce storage', async () => {
    const name = uniqueName('wh-rwo');
    extraDatacenters.push(name);
    await ensureDatacenter(name, 'IT', 'it-mil1', { storage: { storageClassName: DATACENTER_STORAGE_CLASS, accessMode: 'ReadWriteOnce' } });
    const refused = await eventually('the webhook to see the new datacenter', async () => {
      const result = await refusal(createObject(client, API.BackupSpace, spaceObject('rwo', acme.namespace, { datacenter: name, size: '1Gi', replicas: 2 }), { dryRun: true }));
      return result.message.includes('replicas') ? result : undefined;
    });
    expect(refused.code).toBe(422);
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.replicas: replicas: datacenter ${name} has ReadWriteOnce storage, which one replica at a time can mount; set replicas to 1 (it is 2)`));
    await createObject(client, API.BackupSpace, spaceObject('rwo', acme.namespace, { datacenter: name, size: '1Gi', replicas: 1 }), { dryRun: true });
  });

  it('admits customer custody without a password Secret: the customer sets the password at the gateway (hardening item 8)', async () => {
    const vault = await newTenant('keyless', { security: { keyCustody: 'customer', twoFactor: 'Optional' } });
    await createObject(client, API.BackupSpace, spaceObject('sealed', vault.namespace, { size: '1Gi' }), { dryRun: true });
    await createObject(client, API.BackupSpace, spaceObject('sealed', vault.namespace, { size: '1Gi', encryption: { customerPasswordSecretRef: { name: 'sealed-password' } } }), { dryRun: true });
  });

  it('refuses a fixed address its datacenter cannot give: no pool, not in the pool, or another space\'s (hardening item 18)', async () => {
    const bare = uniqueName('wh-nopool');
    const pooled = uniqueName('wh-pool');
    extraDatacenters.push(bare, pooled);
    await ensureDatacenter(bare, 'IT', 'it-mil1');
    await ensureDatacenter(pooled, 'IT', 'it-mil1', { addressPool: { addresses: ['203.0.113.16/30'] } });
    const none = await eventually('the webhook to see the datacenter', async () => {
      const result = await refusal(createObject(client, API.BackupSpace, spaceObject('public', acme.namespace, { datacenter: bare, size: '1Gi', fixedAddress: {} }), { dryRun: true }));
      return result.message.includes('address-pool') ? result : undefined;
    });
    expect(none.code).toBe(403);
    expect(none.message).toBe(deniedBy('backupspaces', `spec.fixedAddress: address-pool: datacenter ${bare} has no address pool, so it has no fixed address to give; remove fixedAddress, or choose a datacenter with an address pool`));
    const outside = await eventually('the webhook to see the pooled datacenter', async () => {
      const result = await refusal(createObject(client, API.BackupSpace, spaceObject('public', acme.namespace, { datacenter: pooled, size: '1Gi', fixedAddress: { ip: '203.0.113.30' } }), { dryRun: true }));
      return result.message.includes('address-pool') ? result : undefined;
    });
    expect(outside.message).toBe(deniedBy('backupspaces', `spec.fixedAddress.ip: address-pool: 203.0.113.30 is not in the address pool of datacenter ${pooled} (203.0.113.16/30); choose an address of the pool, or leave ip out to get the first free one`));

    const other = await newTenant('neighbour', { residency: { countries: ['IT'] } });
    await createObject(client, API.BackupSpace, spaceObject('first', other.namespace, { datacenter: pooled, size: '1Gi', replicas: 1, fixedAddress: { ip: '203.0.113.17' } }));
    await eventually('the webhook to see the first space', async () => {
      const result = await refusal(createObject(client, API.BackupSpace, spaceObject('second', acme.namespace, { datacenter: pooled, size: '1Gi', fixedAddress: { ip: '203.0.113.17' } }), { dryRun: true }));
      return result.message.includes('address-taken') ? result : undefined;
    });
    const taken = await refusal(createObject(client, API.BackupSpace, spaceObject('second', acme.namespace, { datacenter: pooled, size: '1Gi', fixedAddress: { ip: '203.0.113.17' } })));
    expect(taken.code).toBe(403);
    expect(taken.message).toBe(deniedBy('backupspaces', `spec.fixedAddress.ip: address-taken: 203.0.113.17 of datacenter ${pooled}'s pool is already used by another space; choose another address of the pool (203.0.113.16/30), or leave ip out to get the first free one`));
    expect(taken.message).not.toContain(other.namespace);
    await createObject(client, API.BackupSpace, spaceObject('second', acme.namespace, { datacenter: pooled, size: '1Gi', fixedAddress: { ip: '203.0.113.18' } }), { dryRun: true });
    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, 'first', other.namespace) });
  });

  it('refuses a new space in a Stalled datacenter, and the datacenter\'s stall is a Warning Event (hardening item 18)', async () => {
    const name = uniqueName('wh-stalled');
    extraDatacenters.push(name);
    await ensureDatacenter(name, 'IT', 'zone-without-nodes');
    const stalled = await waitForCondition<Datacenter>(client, API.Datacenter, name, undefined, 'Stalled', 'True', 'NoMatchingNodes');
    const why = condition(stalled, 'Stalled')?.message ?? '';
    await eventually('the webhook to see the stalled datacenter', async () => {
      const result = await refusal(createObject(client, API.BackupSpace, spaceObject('stranded', acme.namespace, { datacenter: name, size: '1Gi' }), { dryRun: true }));
      return result.message.includes('datacenter-ready') ? result : undefined;
    });
    const refused = await refusal(createObject(client, API.BackupSpace, spaceObject('stranded', acme.namespace, { datacenter: name, size: '1Gi' })));
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.datacenter: datacenter-ready: datacenter ${name} cannot host new spaces: it is Stalled (NoMatchingNodes: ${why}); choose another datacenter, or wait until the provider has put it right`));
    const event = await eventually('a Warning Event about the datacenter', async () => {
      const events = await client.request<{ items: { type: string; reason: string; note?: string; regarding: { kind?: string; name?: string } }[] }>({ method: 'GET', path: collectionPath(K8S.Event, 'default') });
      return events.items.find((e) => e.regarding.kind === 'Datacenter' && e.regarding.name === name && e.type === 'Warning');
    });
    expect(event).toMatchObject({ reason: 'NoMatchingNodes', note: why });
  });

  it('refuses a space outside any tenant\'s namespace', async () => {
    const refused = await refusal(createObject(client, API.BackupSpace, spaceObject('stray', 'default')));
    expect(refused.message).toBe(deniedBy('backupspaces', 'metadata.namespace: tenant-namespace: namespace default is not a tenant namespace; a space lives in its tenant\'s namespace tenant-<tenant>'));
  });
});

describe('endpoints', () => {
  it('refuses an endpoint that points to a space in another namespace', async () => {
    const tenant = await newTenant('devices');
    const refused = await refusal(createObject(client, API.Endpoint, endpointObject('laptop', tenant.namespace, 'data', { spaceRef: { name: 'data', namespace: 'tenant-someone-else' } })));
    expect(refused.code).toBe(422);
    expect(refused.message).toBe(deniedBy('endpoints', `spec.spaceRef.namespace: same-namespace: an endpoint can only use a space of its own namespace ${tenant.namespace}, not one in tenant-someone-else; remove spaceRef.namespace or set it to ${tenant.namespace}`));
    const admitted = await createObject<Endpoint>(client, API.Endpoint, endpointObject('laptop', tenant.namespace, 'data', { spaceRef: { name: 'data', namespace: tenant.namespace } }), { dryRun: true });
    expect(admitted.metadata.name).toBe('laptop');
  });
});

describe('tenants', () => {
  it('refuses a residency edit that would strand an existing space, and allows one that does not', async () => {
    const tenant = await newTenant('europe', { residency: { countries: ['IT', 'DE'] } });
    await createObject(client, API.BackupSpace, spaceObject('frankfurt', tenant.namespace, { datacenter: 'de-fra1' }));
    const refused = await eventually('the webhook to see the space', async () => {
      const result = await refusal(mergePatch(client, API.Tenant, tenant.name, undefined, { spec: { residency: { countries: ['IT'] } } }));
      return result.message.includes('strand') ? result : undefined;
    });
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('tenants', `spec.residency: residency-change: the new residency would strand 1 existing space(s): ${tenant.namespace}/frankfurt (de-fra1, DE); datacenter de-fra1 is in DE, but tenant ${tenant.name} allows only IT. Move or delete those spaces first`));
    expect((await readObject<Tenant>(client, API.Tenant, tenant.name))?.spec.residency.countries).toEqual(['IT', 'DE']);
    await mergePatch(client, API.Tenant, tenant.name, undefined, { spec: { residency: { countries: ['IT', 'DE', 'FR'] } } });
  });
});

describe('datacenters', () => {
  it('refuses deleting a datacenter that still hosts spaces, and allows it once it is empty', async () => {
    const name = uniqueName('wh-dc');
    extraDatacenters.push(name);
    await ensureDatacenter(name, 'FR', 'fr-par1');
    const tenant = await newTenant('paris', { residency: { countries: ['FR'] } });
    await eventually('the webhook to see the datacenter', async () => createObject(client, API.BackupSpace, spaceObject('hosted', tenant.namespace, { datacenter: name })).then(() => true, () => undefined));
    // No waiting for the webhook's caches: it reads the spaces from the API server for this request.
    const refused = await refusal(client.request({ method: 'DELETE', path: objectPath(API.Datacenter, name) }));
    expect(refused.code).toBe(403);
    expect(refused.message).toBe(deniedBy('datacenters', `metadata.name: datacenter-in-use: datacenter ${name} still hosts 1 space(s): ${tenant.namespace}/hosted; delete or move them first`));
    expect(await readObject(client, API.Datacenter, name)).toBeDefined();

    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, 'hosted', tenant.namespace) });
    await eventually('the datacenter to be deletable once empty', async () => {
      if (await readObject(client, API.BackupSpace, 'hosted', tenant.namespace)) return undefined;
      return client.request({ method: 'DELETE', path: objectPath(API.Datacenter, name) }).then(() => true, () => undefined);
    }, { timeoutMs: 90_000 });
  });
});

describe('datacenter edits', () => {
  it('refuses edits that would move or strand hosted spaces, naming them and the field, and admits harmless ones', async () => {
    const name = uniqueName('wh-edit');
    extraDatacenters.push(name);
    await ensureDatacenter(name, 'IT', 'it-rom1');
    const tenant = await newTenant('roma', { residency: { countries: ['IT'] } });
    await eventually('the webhook to see the datacenter', async () => createObject(client, API.BackupSpace, spaceObject('hosted', tenant.namespace, { datacenter: name })).then(() => true, () => undefined));
    const hosts = `datacenter ${name} hosts 1 space(s): ${tenant.namespace}/hosted`;
    const edit = (spec: unknown) => refusal(mergePatch(client, API.Datacenter, name, undefined, { spec }));

    // No waiting for the webhook's caches: like a deletion, an edit is judged against the spaces the API server holds.
    const country = await edit({ country: 'FR' });
    expect(country.code).toBe(403);
    expect(country.message).toBe(deniedBy('datacenters', `spec.country: datacenter-change: ${hosts}; changing its country from IT to FR would put their data, which stays where it is, under another country; create a datacenter in FR and new spaces there`));
    const abroad = await edit({ nodeSelector: { matchLabels: { [ZONE_LABEL]: 'fr-par1' } } });
    expect(abroad.message).toBe(deniedBy('datacenters', `spec.nodeSelector: datacenter-change: ${hosts}; the new selector matches 3 node(s) outside IT: fr-par1-node-1 (FR), fr-par1-node-2 (FR), fr-par1-node-3 (FR), where their data may not go`));
    const elsewhere = await edit({ nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-mil1' } } });
    expect(elsewhere.message).toBe(deniedBy('datacenters', `spec.nodeSelector: datacenter-change: ${hosts}; the new selector no longer matches 3 of its node(s): it-rom1-node-1, it-rom1-node-2, it-rom1-node-3, where their gateways run and their volumes are reachable`));
    const storage = await edit({ storage: { storageClassName: 'other-storage' } });
    expect(storage.message).toBe(deniedBy('datacenters', `spec.storage.storageClassName: datacenter-change: ${hosts}; their volumes were made with storageClassName ${DATACENTER_STORAGE_CLASS} and cannot change to other-storage; keep ${DATACENTER_STORAGE_CLASS}, or create a datacenter with the new storage`));
    expect((await readObject<Datacenter>(client, API.Datacenter, name))?.spec).toMatchObject({ country: 'IT', nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-rom1' } }, storage: { storageClassName: DATACENTER_STORAGE_CLASS } });

    // The same nodes said another way, and a new display name, change nothing that holds data.
    await mergePatch(client, API.Datacenter, name, undefined, { spec: { displayName: 'Roma 1', nodeSelector: { matchLabels: null, matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: ['it-rom1'] }] } } });
    expect((await readObject<Datacenter>(client, API.Datacenter, name))?.spec).toMatchObject({ displayName: 'Roma 1', nodeSelector: { matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: ['it-rom1'] }] } });

    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, 'hosted', tenant.namespace) });
    await eventually('the datacenter to be editable once empty', async () => {
      if (await readObject(client, API.BackupSpace, 'hosted', tenant.namespace)) return undefined;
      return mergePatch(client, API.Datacenter, name, undefined, { spec: { country: 'FR' } }).then(() => true, () => undefined);
    }, { timeoutMs: 90_000 });
  });
});

describe('the webhook TLS', () => {
  it('refuses TLS 1.1 (S2), with openssl and with Node', async () => {
    // SECLEVEL=0 lets the client offer TLS 1.1 at all, so the refusal is the server's.
    const openssl = await exec('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { timeout: 10_000 })
      .then(({ stdout, stderr }) => ({ ok: true, output: `${stdout}${stderr}` }), (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }));
    expect(openssl.ok).toBe(false);
    expect(openssl.output).toMatch(/alert protocol version/);
    expect((await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false })).error).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('accepts TLS 1.2 with a certificate the operator\'s CA vouches for', async () => {
    const ca = secretField(await readObject<V1Secret>(client, K8S.Secret, CA_SECRET, operatorNamespace), 'ca.crt');
    expect(await handshake({ maxVersion: 'TLSv1.2', ca })).toMatchObject({ protocol: 'TLSv1.2' });
  });
});

describe('certificate renewal', () => {
  it('re-issues a deleted serving certificate, serves it without a restart, and keeps judging', async () => {
    const before = await readObject<V1Secret>(client, K8S.Secret, SERVING_SECRET, operatorNamespace);
    const oldFingerprint = new X509Certificate(secretField(before, 'tls.crt') ?? '').fingerprint256;
    const ca = secretField(await readObject<V1Secret>(client, K8S.Secret, CA_SECRET, operatorNamespace), 'ca.crt');
    expect((await handshake({ ca })).fingerprint).toBe(oldFingerprint);

    await client.request({ method: 'DELETE', path: objectPath(K8S.Secret, SERVING_SECRET, operatorNamespace) });
    const renewed = await eventually('the serving certificate to be re-issued', async () => {
      const secret = await readObject<V1Secret>(client, K8S.Secret, SERVING_SECRET, operatorNamespace);
      return secret && secret.metadata?.uid !== before?.metadata?.uid ? secret : undefined;
    }, { timeoutMs: 30_000 });
    const newFingerprint = new X509Certificate(secretField(renewed, 'tls.crt') ?? '').fingerprint256;
    expect(newFingerprint).not.toBe(oldFingerprint);
    await eventually('the webhook to serve the new certificate', async () => ((await handshake({ ca })).fingerprint === newFingerprint ? true : undefined));
    await operator.waitForLog('the renewal to be logged', (line) => line.msg === 'serving certificate renewed');

    const tenant = await newTenant('renewed', { residency: { countries: ['IT'] } });
    const refused = await refusal(createObject(client, API.BackupSpace, spaceObject('abroad', tenant.namespace, { datacenter: 'de-fra1' })));
    expect(refused.message).toBe(deniedBy('backupspaces', `spec.datacenter: residency: datacenter de-fra1 is in DE, but tenant ${tenant.name} allows only IT`));
    await createObject(client, API.BackupSpace, spaceObject('home', tenant.namespace, { datacenter: 'it-mil1' }), { dryRun: true });
  });
});
