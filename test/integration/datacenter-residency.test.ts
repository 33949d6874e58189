/**
 * A Datacenter's country against its nodes (S7), on the real control plane with the kwok topology
 * (12 nodes labelled with their country in IT, DE and FR) and the real scheduler: a "FR" datacenter
 * whose selector matches Italian nodes is Stalled, counts only French nodes, and no space of it runs
 * on an Italian node. The operator runs without its webhook, so this is the reconcilers' own guard.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Datacenter } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { COUNTRY_LABEL, REGION_LABEL, ZONE_LABEL } from '../harness/topology.ts';
import { createIfAbsent, createObject, createReadyTenant, ensureDatacenters, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { datacenter as datacenterObject, space as spaceObject } from '../support/objects.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-residency');
const tenants: string[] = [];
const datacenters: string[] = [];
let operator: OperatorProcess;
let countryOf: Map<string, string>;

async function list<T>(path: string): Promise<T[]> {
  return (await client.request<{ items: T[] }>({ method: 'GET', path })).items;
}

async function newDatacenter(prefix: string, country: string, nodeSelector: Datacenter['spec']['nodeSelector']): Promise<string> {
  const name = uniqueName(prefix);
  datacenters.push(name);
  await createIfAbsent(client, API.Datacenter, datacenterObject(name, country, { nodeSelector }));
  return name;
}

/** The space's gateway pods once the scheduler has decided on each: bound to a node, or unschedulable. */
async function decidedPods(namespace: string, space: string, replicas: number): Promise<V1Pod[]> {
  return eventually(`the scheduler to decide on ${replicas} gateway pod(s) of ${space}`, async () => {
    const pods = (await list<V1Pod>(`${collectionPath(K8S.Pod, namespace)}?labelSelector=tenantbackup.io/space=${space}`)).filter((p) => !p.metadata?.deletionTimestamp);
    const decided = (p: V1Pod) => Boolean(p.spec?.nodeName) || (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
    return pods.length === replicas && pods.every(decided) ? pods : undefined;
  }, { timeoutMs: 90_000 });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  countryOf = new Map((await list<V1Node>(collectionPath(K8S.Node))).map((n) => [n.metadata?.name ?? '', n.metadata?.labels?.[COUNTRY_LABEL] ?? '']));
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test']);
});

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator?.stop();
  for (const name of datacenters) await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, name) }).catch(() => undefined);
});

describe('a datacenter whose selector matches another country\'s nodes', () => {
  it('is Stalled (ForeignNodes), names the foreign nodes, and counts only its own country\'s', async () => {
    expect([...countryOf.values()].filter((c) => c === 'IT')).toHaveLength(6);
    // Paris and Milan: three French nodes and three Italian ones.
    const name = await newDatacenter('fr-wide', 'FR', { matchExpressions: [{ key: REGION_LABEL, operator: 'In', values: ['fr-north', 'it-north'] }] });
    const dc = await waitForCondition<Datacenter>(client, API.Datacenter, name, undefined, 'Stalled', 'True', 'ForeignNodes');
    expect(dc.status?.conditions?.find((c) => c.type === 'Stalled')?.message).toBe(
      `spec.nodeSelector matches 3 node(s) outside FR: it-mil1-node-1 (IT), it-mil1-node-2 (IT), it-mil1-node-3 (IT); the datacenter counts and pins its spaces only to nodes labelled ${COUNTRY_LABEL}=FR (3 of 3 ready); fix spec.nodeSelector or the nodes' labels`,
    );
    expect(dc.status).toMatchObject({ readyNodes: 3, nodes: ['fr-par1-node-1', 'fr-par1-node-2', 'fr-par1-node-3'] });
    expect(dc.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ForeignNodes' });
  });

  it('never runs a space on an Italian node: its gateway stays unscheduled rather than cross the border', async () => {
    // Only Milan's nodes: before the country was part of the pin, the scheduler bound the gateway there.
    const name = await newDatacenter('fr-milan', 'FR', { matchLabels: { [ZONE_LABEL]: 'it-mil1' } });
    await waitForCondition<Datacenter>(client, API.Datacenter, name, undefined, 'Stalled', 'True', 'ForeignNodes');
    const tenant = uniqueName('paris');
    tenants.push(tenant);
    const { namespace } = await createReadyTenant(client, tenant, { residency: { countries: ['FR'] }, quotas: { storage: '100Gi', spaces: 2, endpoints: 2 } });
    await createObject(client, API.BackupSpace, spaceObject('wrong-zone', namespace, { datacenter: name, replicas: 1 }));

    const pods = await decidedPods(namespace, 'wrong-zone', 1);
    expect(pods.map((p) => [p.spec?.nodeName ?? 'unscheduled', countryOf.get(p.spec?.nodeName ?? '') ?? ''])).toEqual([['unscheduled', '']]);
    const space = await readObject<BackupSpace>(client, API.BackupSpace, 'wrong-zone', namespace);
    expect(space?.status?.phase).not.toBe('Ready');
  });

  it('runs the replicas of a space in a datacenter that also matches foreign nodes on its own country\'s nodes only', async () => {
    const name = await newDatacenter('fr-mixed', 'FR', { matchExpressions: [{ key: REGION_LABEL, operator: 'In', values: ['fr-north', 'it-north'] }] });
    await waitForCondition<Datacenter>(client, API.Datacenter, name, undefined, 'Stalled', 'True', 'ForeignNodes');
    const tenant = uniqueName('lyon');
    tenants.push(tenant);
    const { namespace } = await createReadyTenant(client, tenant, { residency: { countries: ['FR'] }, quotas: { storage: '100Gi', spaces: 2, endpoints: 2 } });
    await createObject(client, API.BackupSpace, spaceObject('mixed', namespace, { datacenter: name, replicas: 3 }));

    const pods = await decidedPods(namespace, 'mixed', 3);
    const placed = pods.map((p) => countryOf.get(p.spec?.nodeName ?? '') ?? 'unscheduled');
    expect(placed).toEqual(['FR', 'FR', 'FR']);
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(3);
  });
});
