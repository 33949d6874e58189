/**
 * Fixed addresses on the real control plane (hardening item 14): the allocation is a compare-and-swap
 * on the datacenter's claims object, so spaces created together never share an address, and a space
 * keeps its address when its status is lost. The operator runs without its webhook.
 */
import type { V1ConfigMap, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { claimsConfigMapName } from '../../src/controllers/backupspace/address-claims.ts';
import { poolAddresses } from '../../src/controllers/backupspace/address.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { isApiError } from '../../src/runtime/kube/errors.ts';
import { CONTENT_TYPE } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { ZONE_LABEL } from '../harness/topology.ts';
import { condition, createObject, createReadyTenant, createSpace, ensureDatacenters, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { datacenter } from '../support/objects.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
// A datacenter of its own: on Milan's nodes, with a storage class nobody provisions, so its twenty
// volumes stay Pending instead of binding the volumes other tests need. The class exists — a
// datacenter without its StorageClass is Stalled, and a Stalled datacenter gets no new spaces.
const dcName = uniqueName('it-addr');
const unprovisioned = 'address-test-unprovisioned';
const pool = ['192.0.2.0/27'];
const noPool = `${dcName}-nopool`;
const SPACES = 20;
let tenant = '';
let operator: OperatorProcess;

async function spacesOf(namespace: string): Promise<BackupSpace[]> {
  return (await client.request<{ items: BackupSpace[] }>({ method: 'GET', path: collectionPath(API.BackupSpace, namespace) })).items;
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.StorageClass), body: { metadata: { name: unprovisioned }, provisioner: 'tenantbackup.io/nobody', volumeBindingMode: 'WaitForFirstConsumer' } })
    .catch((error: unknown) => { if (!isApiError(error, 409)) throw error; });
  await createObject(client, API.Datacenter, datacenter(dcName, 'IT', { nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-mil1' } }, storage: { storageClassName: unprovisioned }, addressPool: { addresses: pool } }));
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test']);
});

afterAll(async () => {
  if (tenant) await removeTenant(client, tenant);
  await operator.stop();
  await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, dcName) }).catch(() => undefined);
});

describe('fixed addresses', () => {
  it('gives twenty spaces created at once in one datacenter twenty distinct addresses of its pool, and keeps each one when its status is lost', async () => {
    tenant = uniqueName('addresses');
    const { namespace } = await createReadyTenant(client, tenant, { quotas: { storage: '500Gi', spaces: SPACES + 2, endpoints: 2 } });
    const names = Array.from({ length: SPACES }, (_, i) => `space-${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((name) => createSpace(client, name, namespace, { size: '1Gi', datacenter: dcName, replicas: 1, fixedAddress: {} })));

    const allocated = await eventually('every space to show an address', async () => {
      const spaces = await spacesOf(namespace);
      return spaces.length === SPACES && spaces.every((s) => s.status?.address) ? spaces : undefined;
    }, { timeoutMs: 90_000 });
    const addresses = allocated.map((s) => s.status?.address ?? '');
    const inPool = new Set(poolAddresses(datacenter(dcName, 'IT', { addressPool: { addresses: pool } })));
    for (const address of addresses) expect(inPool.has(address), address).toBe(true);
    expect(new Set(addresses).size, addresses.join(' ')).toBe(SPACES);
    // The Services ask for the addresses the spaces show.
    const service = await eventually('a Service', () => readObject<V1Service>(client, K8S.Service, `${names[5]}-gateway`, namespace));
    expect(service.spec?.loadBalancerIP).toBe(allocated.find((s) => s.metadata.name === names[5])?.status?.address);
    // Give the operator time to (wrongly) move a space off a shared address after the fact; none moves.
    await new Promise((done) => setTimeout(done, 3000));
    expect((await spacesOf(namespace)).map((s) => s.status?.address).sort()).toEqual([...addresses].sort());

    // The allocation is held on the API server, not in status.
    const claims = await readObject<V1ConfigMap>(client, K8S.ConfigMap, claimsConfigMapName(dcName), operatorNamespace);
    expect(Object.keys(claims?.data ?? {})).toHaveLength(SPACES);
    expect(Object.values(claims?.data ?? {}).sort()).toEqual([...addresses].sort());

    // A restore that drops status: the space with the highest address loses status.address after a
    // space with a lower one went away, so the lowest free address is not its own.
    const byAddress = [...allocated].sort((a, b) => inPoolIndex(a) - inPoolIndex(b));
    const lost = byAddress.at(-1);
    const gone = byAddress[0];
    if (!lost || !gone) throw new Error('no spaces');
    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, gone.metadata.name ?? '', namespace) });
    await eventually('the deleted space to give its address back', async () => {
      const stored = await readObject<V1ConfigMap>(client, K8S.ConfigMap, claimsConfigMapName(dcName), operatorNamespace);
      return Object.keys(stored?.data ?? {}).length === SPACES - 1 && !(await readObject(client, API.BackupSpace, gone.metadata.name ?? '', namespace)) ? true : undefined;
    });
    // Let every cache see the deletion, so that only the allocation itself can keep the address.
    await new Promise((done) => setTimeout(done, 2000));
    const dropped = await client.request<BackupSpace>({ method: 'PATCH', path: objectPath(API.BackupSpace, lost.metadata.name ?? '', namespace, 'status'), body: { status: { address: null } }, contentType: CONTENT_TYPE.merge });
    expect(dropped.status?.address).toBeUndefined();
    const restored = await eventually('the space to show an address again', async () => {
      const s = await readObject<BackupSpace>(client, API.BackupSpace, lost.metadata.name ?? '', namespace);
      return s?.status?.address ? s : undefined;
    });
    expect(restored.status?.address).toBe(lost.status?.address);

    function inPoolIndex(s: BackupSpace): number {
      return [...inPool].indexOf(s.status?.address ?? '');
    }
  });

  it('builds nothing, not even a key Secret, for a space whose address cannot be had', async () => {
    const owner = uniqueName('nothing');
    const { namespace } = await createReadyTenant(client, owner, { quotas: { storage: '100Gi', spaces: 6, endpoints: 2 } });
    try {
      await createObject(client, API.Datacenter, datacenter(noPool, 'IT', { nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-mil1' } }, storage: { storageClassName: unprovisioned } }));
      await createSpace(client, 'holder', namespace, { size: '1Gi', datacenter: dcName, replicas: 1, fixedAddress: { ip: '192.0.2.30' } });
      await eventually('the holder\'s address', async () => ((await readObject<BackupSpace>(client, API.BackupSpace, 'holder', namespace))?.status?.address === '192.0.2.30' ? true : undefined));
      const cases: [name: string, spec: Parameters<typeof createSpace>[3], reason: string, field: string][] = [
        ['taken', { datacenter: dcName, fixedAddress: { ip: '192.0.2.30' } }, 'AddressTaken', 'spec.fixedAddress.ip'],
        // A space not yet built is judged by the admission rules first (rule address-pool).
        ['outside', { datacenter: dcName, fixedAddress: { ip: '203.0.113.77' } }, 'AddressPool', 'spec.fixedAddress.ip'],
        ['poolless', { datacenter: noPool, fixedAddress: {} }, 'AddressPool', 'spec.fixedAddress'],
      ];
      for (const [name, spec] of cases) await createSpace(client, name, namespace, { size: '1Gi', replicas: 1, ...spec });
      for (const [name, , reason, field] of cases) {
        const space = await waitForCondition<BackupSpace>(client, API.BackupSpace, name, namespace, 'Stalled', 'True', reason);
        expect(condition(space, 'Stalled')?.message).toContain(field);
        expect(space.status?.keyId).toBeUndefined();
        // …and says so where kubectl describe and alerting look: a Warning Event of that reason.
        await eventually(`a Warning ${reason} Event for ${name}`, async () => {
          const events = await client.request<{ items: { type?: string; reason?: string }[] }>({ method: 'GET', path: collectionPath(K8S.Event, namespace), query: { fieldSelector: `regarding.name=${name}` } });
          return events.items.some((e) => e.type === 'Warning' && e.reason === reason) ? true : undefined;
        });
      }
      // Give the operator time to (wrongly) build something after the fact.
      await new Promise((done) => setTimeout(done, 3000));
      const secrets = (await client.request<{ items: { metadata: { name: string } }[] }>({ method: 'GET', path: collectionPath(K8S.Secret, namespace) })).items.map((s) => s.metadata.name);
      for (const [name] of cases) {
        expect(secrets.filter((n) => n.startsWith(`${name}-`)), name).toEqual([]);
        expect(await readObject(client, K8S.Deployment, `${name}-gateway`, namespace), name).toBeUndefined();
      }
      expect(secrets).toContain('holder-key');
    } finally {
      await removeTenant(client, owner);
      await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, noPool) }).catch(() => undefined);
    }
  });
});
