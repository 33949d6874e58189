/**
 * Backup freshness (S16) on the real control plane: an endpoint with a short expected interval and
 * no backup turns BackupOverdue=True, with a Warning Event, at the moment the interval has passed
 * since its creation, because the operator requeued it for that moment: nothing else about it
 * changes meanwhile (no space, so no credentials Secret and no gateway report; the tenant and its
 * namespace are checked unchanged; resync is an hour away). The interval is the endpoint's own or
 * its tenant plan's. Overdue is informational: Ready and Stalled stay as they were. And the API
 * server refuses an interval that is not a duration, naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Endpoint } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { condition, createEndpoint, createReadyTenant, ensureDatacenters, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, refused, sleep, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const tenants: string[] = [];
let operator: OperatorProcess;

interface EventItem { type: string; reason: string; note?: string; regarding: { kind?: string; name?: string } }

async function eventsAbout(namespace: string, name: string, reason: string): Promise<EventItem[]> {
  const list = await client.request<{ items: EventItem[] }>({ method: 'GET', path: collectionPath(K8S.Event, namespace) });
  return list.items.filter((e) => e.reason === reason && e.regarding.kind === 'Endpoint' && e.regarding.name === name);
}

const resourceVersion = async (ref: typeof API.Tenant | typeof K8S.Namespace, name: string) => (await readObject<{ metadata: { resourceVersion?: string } }>(client, ref, name))?.metadata.resourceVersion;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  // Resync an hour away: no periodic replay can stand in for the requeue under test.
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--resync-period', '1h']);
});

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator.stop();
});

describe('backup freshness', () => {
  it('refuses an expected interval that is not a duration, naming the field', async () => {
    const name = uniqueName('badinterval');
    tenants.push(name);
    const { namespace } = await createReadyTenant(client, name);
    const refusal = await refused(createEndpoint(client, 'laptop', namespace, 'vault', { expectedBackupInterval: '4 minutes' }));
    expect(refusal.code).toBe(422);
    expect(refusal.message).toBe('Endpoint.tenantbackup.io "laptop" is invalid: spec.expectedBackupInterval: Invalid value: "4 minutes": expectedBackupInterval must be a duration of at least 1s in hours, minutes and seconds, e.g. 240s, 4m, 1h30m or 24h');
  });

  it('turns an endpoint that has not backed up within its interval BackupOverdue, with a Warning Event, when the interval passes', async () => {
    const name = uniqueName('fresh');
    tenants.push(name);
    const { namespace } = await createReadyTenant(client, name, { plan: { expectedBackupInterval: '7s' } });
    // No such space: nothing about these endpoints changes after their first reconciles.
    await createEndpoint(client, 'desk', namespace, 'nowhere', { expectedBackupInterval: '6s' });
    await createEndpoint(client, 'laptop', namespace, 'nowhere');
    const onTime = await Promise.all(['desk', 'laptop'].map((e) => waitForCondition<Endpoint>(client, API.Endpoint, e, namespace, 'BackupOverdue', 'False', 'BackupOnTime', 5_000)));
    const created = onTime.map((e) => Date.parse(String(e.metadata.creationTimestamp)));
    expect(condition(onTime[0], 'BackupOverdue')?.message).toBe(`no backup since the endpoint was created at ${iso(created[0]!)}, expected every 6s (spec.expectedBackupInterval): a backup is due by ${iso(created[0]! + 6000)}`);
    expect(condition(onTime[1], 'BackupOverdue')?.message).toContain(`expected every 7s (tenant ${name} spec.plan.expectedBackupInterval)`);
    const stalledBefore = condition(onTime[0], 'Stalled');
    expect(stalledBefore?.reason).toBe('SpaceNotFound');

    // Let the first reconciles' echoes (the tenant counting its endpoints) settle, then hold still.
    await sleep(1500);
    const before = { tenant: await resourceVersion(API.Tenant, name), namespace: await resourceVersion(K8S.Namespace, namespace) };
    expect(Date.now(), 'settled before either is due').toBeLessThan(created[0]! + 5000);

    const overdue = await Promise.all(['desk', 'laptop'].map((e) => waitForCondition<Endpoint>(client, API.Endpoint, e, namespace, 'BackupOverdue', 'True', 'BackupOverdue', 20_000)));
    for (const [i, interval] of [6000, 7000].entries()) {
      const c = condition(overdue[i], 'BackupOverdue');
      expect(c?.message, overdue[i]?.metadata.name).toContain(`: overdue since ${iso(created[i]! + interval)}`);
      // Flipped at the due moment (to the second lastTransitionTime keeps), not at some later event.
      const flipped = Date.parse((c as { lastTransitionTime?: string } | undefined)?.lastTransitionTime ?? '');
      expect(flipped - created[i]!, overdue[i]?.metadata.name).toBeGreaterThanOrEqual(interval);
      expect(flipped - created[i]!, overdue[i]?.metadata.name).toBeLessThanOrEqual(interval + 2000);
    }
    expect({ tenant: await resourceVersion(API.Tenant, name), namespace: await resourceVersion(K8S.Namespace, namespace) }, 'nothing else prompted a reconcile').toEqual(before);

    // Informational: Ready and Stalled say what they said before.
    expect(condition(overdue[0], 'Stalled')).toEqual(stalledBefore);
    expect(condition(overdue[0], 'Ready')?.status).toBe(condition(onTime[0], 'Ready')?.status);

    const warning = await eventually('a Warning Event BackupOverdue about desk', async () => (await eventsAbout(namespace, 'desk', 'BackupOverdue')).find((e) => e.type === 'Warning'));
    expect(warning.note).toBe(condition(overdue[0], 'BackupOverdue')?.message);
    // Once per transition: the endpoint reconciled again later (another write) raises no second one.
    await mergePatch(client, API.Endpoint, 'desk', namespace, { metadata: { labels: { touched: 'yes' } } });
    await sleep(2000);
    expect(await eventsAbout(namespace, 'desk', 'BackupOverdue')).toHaveLength(1);
  });
});
