/**
 * Usage metering (issue 13 item 2, S10) on the real control plane: the metering runner, in this
 * process on a controlled clock, samples a tenant whose spaces' status.usedBytes and endpoints the
 * test changes along a scripted timeline (spaces growing and shrinking, endpoints added and removed,
 * an hour boundary, the month boundary). Half-way the runner is replaced by a new instance with
 * new caches — an operator restart — that knows only what the ledger ConfigMaps in the API server
 * say. The records must be those computed by hand; the records stored before the restart are
 * unchanged after it, and no record is there twice. The usage-ledger command prints them.
 */
import { join } from 'node:path';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint } from '../../src/api/types.ts';
import type { ControllerContext } from '../../src/controllers/context.ts';
import { tenantNamespaceName, TENANT_LABEL } from '../../src/controllers/labels.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createMeteringController, type Metering } from '../../src/metering/controller.ts';
import type { UsageEvent } from '../../src/metering/events.ts';
import { ledgerName, recordsOf, STATE_KEY, USAGE_MONTH_LABEL } from '../../src/metering/ledger.ts';
import { stateFromJson } from '../../src/metering/codec.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import { InformerFactory } from '../../src/runtime/informer-factory.ts';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createSpace, createTenant, ensureDatacenters } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { run } from '../support/run.ts';

const entryPoint = join(import.meta.dirname, '../../src/cli/main.ts');
const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-meter');
const tenant = uniqueName('metered');
const namespace = tenantNamespaceName(tenant);
const logger = createLogger({ name: 'metering-test', level: 'warn' });

let clockMs = 0;
const setClock = (iso: string) => (clockMs = Date.parse(iso));

/** One runner: its own caches and its own memory, as one operator process has. */
class Runner {
  readonly stop = new AbortController();
  readonly informers = new InformerFactory(client, logger);
  readonly metering: Metering;

  constructor() {
    const ctx: ControllerContext = {
      client,
      informers: this.informers,
      recorder: new EventRecorder(client, { controller: 'tenantbackup.io/metering-test', instance: 'test' }, logger),
      logger,
      settings: { operatorNamespace, adminNamespaces: [], clusterCidrs: [], adminCidrs: [], userPrefix: '' },
      now: () => new Date(clockMs),
    };
    this.metering = createMeteringController(ctx, { namespace: operatorNamespace, intervalMs: 3_600_000, now: () => new Date(clockMs) });
    this.informers.start(this.stop.signal);
  }

  /** Waits until the caches show the figures the test set, then samples the tenant once. */
  async sample(bytes: Record<string, number>, endpointNames: string[]): Promise<void> {
    const spaces = this.informers.for<BackupSpace>(API.BackupSpace);
    const endpoints = this.informers.for<Endpoint>(API.Endpoint);
    const tenants = this.informers.for(API.Tenant);
    await eventually('the caches to show the figures', async () => {
      if (!tenants.get(tenant)) throw new Error('the tenant is not cached yet');
      const cached = Object.fromEntries(spaces.inNamespace(namespace).map((s) => [s.metadata.name ?? '', s.status?.usedBytes ?? 0]).sort(([a], [b]) => String(a).localeCompare(String(b))));
      const names = endpoints.inNamespace(namespace).map((e) => e.metadata.name ?? '').sort();
      if (JSON.stringify(cached) === JSON.stringify(bytes) && JSON.stringify(names) === JSON.stringify([...endpointNames].sort())) return true;
      throw new Error(`cached ${JSON.stringify(cached)} ${JSON.stringify(names)}`);
    }, { timeoutMs: 20_000 });
    await this.metering.controller.process(tenant);
  }

  close(): void {
    this.metering.controller.queue.shutDown();
    this.stop.abort();
  }
}

async function setUsed(space: string, usedBytes: number): Promise<void> {
  await client.request({ method: 'PATCH', path: `${objectPath(API.BackupSpace, space, namespace)}/status`, body: { status: { usedBytes } }, contentType: CONTENT_TYPE.merge });
}

async function deleteEndpoint(name: string): Promise<void> {
  await client.request({ method: 'DELETE', path: objectPath(API.Endpoint, name, namespace) });
}

async function ledgers(): Promise<V1ConfigMap[]> {
  // This tenant's: the runner meters every Tenant of the shared control plane, other files' too.
  const list = await client.request<{ items: V1ConfigMap[] }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, operatorNamespace), query: { labelSelector: `${USAGE_MONTH_LABEL},${TENANT_LABEL}=${tenant}` } });
  return list.items;
}

/** Every record key → its stored text, across the tenant's months. */
async function storedRecords(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const c of await ledgers()) for (const [key, value] of Object.entries(c.data ?? {})) if (key !== STATE_KEY) out.set(`${c.metadata?.name ?? ''}/${key}`, value);
  return out;
}

const hourData = (start: string, end: string, storageByteSeconds: string, storagePeakBytes: string) => ({ tenant, periodStart: start, periodEnd: end, storageByteSeconds, storagePeakBytes });

let runner: Runner | undefined;

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  for (const name of [operatorNamespace, namespace]) await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name } } });
  await createTenant(client, tenant);
  await createSpace(client, 'alpha', namespace);
  await createSpace(client, 'beta', namespace);
  await setUsed('alpha', 0);
  await setUsed('beta', 0);
});

afterAll(async () => {
  runner?.close();
  await client.request({ method: 'DELETE', path: objectPath(API.Tenant, tenant) }).catch(() => undefined);
  for (const name of [namespace, operatorNamespace]) await client.request({ method: 'DELETE', path: objectPath(K8S.Namespace, name) }).catch(() => undefined);
  client.close();
});

describe('usage metering over a scripted timeline, with a restart', () => {
  let beforeRestart = new Map<string, string>();

  it('meters the first hour and closes it at the hour boundary', async () => {
    runner = new Runner();
    // 22:30  1000 B (alpha), endpoints {a}.
    await setUsed('alpha', 1000);
    await createEndpoint(client, 'a', namespace, 'alpha');
    setClock('2026-11-30T22:30:00Z');
    await runner.sample({ alpha: 1000, beta: 0 }, ['a']);
    // 22:45  3000 B (beta grows to 2000), endpoint b added.
    await setUsed('beta', 2000);
    await createEndpoint(client, 'b', namespace, 'beta');
    setClock('2026-11-30T22:45:00Z');
    await runner.sample({ alpha: 1000, beta: 2000 }, ['a', 'b']);
    // 23:10  2000 B (alpha shrinks to 0), endpoint a removed: hour 22 closes.
    await setUsed('alpha', 0);
    await deleteEndpoint('a');
    setClock('2026-11-30T23:10:00Z');
    await runner.sample({ alpha: 0, beta: 2000 }, ['b']);

    beforeRestart = await storedRecords();
    // Hour 22: 1000 B × 900 s + 3000 B × 900 s, peak 3000 B.
    expect([...beforeRestart.keys()]).toEqual([`${ledgerName(tenant, '2026-11')}/hour-2026-11-30T22.json`]);
    const [hour22] = [...beforeRestart.values()].map((t) => JSON.parse(t) as UsageEvent);
    expect(hour22?.data).toEqual(hourData('2026-11-30T22:00:00.000Z', '2026-11-30T23:00:00.000Z', '3600000', '3000'));
  });

  it('after a restart, continues from the ledger alone: same figures, nothing rewritten or doubled', async () => {
    const previous = runner;
    previous?.close();
    runner = new Runner();
    // The new runner samples the unchanged figures at the same instant: nothing to write.
    const rv = (await ledgers())[0]?.metadata?.resourceVersion;
    await runner.sample({ alpha: 0, beta: 2000 }, ['b']);
    expect((await ledgers())[0]?.metadata?.resourceVersion).toBe(rv);

    // 23:50  2000 B, endpoint c added.
    await createEndpoint(client, 'c', namespace, 'beta');
    setClock('2026-11-30T23:50:00Z');
    await runner.sample({ alpha: 0, beta: 2000 }, ['b', 'c']);
    // 00:20 (December)  500 B (beta shrinks), b removed: hour 23 and November close.
    await setUsed('beta', 500);
    await deleteEndpoint('b');
    setClock('2026-12-01T00:20:00Z');
    await runner.sample({ alpha: 0, beta: 500 }, ['c']);
    // 01:00 sharp  0 B: hour 00 closes; 02:30: hour 01 closes empty.
    await setUsed('beta', 0);
    setClock('2026-12-01T01:00:00Z');
    await runner.sample({ alpha: 0, beta: 0 }, ['c']);
    setClock('2026-12-01T02:30:00Z');
    await runner.sample({ alpha: 0, beta: 0 }, ['c']);

    const after = await storedRecords();
    for (const [key, text] of beforeRestart) expect(after.get(key), key).toBe(text);
    const events = (await ledgers()).flatMap(recordsOf);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);

    const nov = ledgerName(tenant, '2026-11');
    const dec = ledgerName(tenant, '2026-12');
    expect([...after.keys()].sort()).toEqual([`${nov}/hour-2026-11-30T22.json`, `${nov}/hour-2026-11-30T23.json`, `${nov}/month-2026-11.json`, `${dec}/hour-2026-12-01T00.json`]);
    const parsed = (key: string) => (JSON.parse(after.get(key) ?? '{}') as UsageEvent).data;
    // Hour 23: 3000 × 600 + 2000 × 2400 + 2000 × 600; hour 00: 2000 × 1200 + 500 × 2400.
    expect(parsed(`${nov}/hour-2026-11-30T23.json`)).toEqual(hourData('2026-11-30T23:00:00.000Z', '2026-12-01T00:00:00.000Z', '7800000', '3000'));
    expect(parsed(`${dec}/hour-2026-12-01T00.json`)).toEqual(hourData('2026-12-01T00:00:00.000Z', '2026-12-01T01:00:00.000Z', '3600000', '2000'));
    expect(parsed(`${nov}/month-2026-11.json`)).toEqual({
      tenant,
      periodStart: '2026-11-01T00:00:00.000Z',
      periodEnd: '2026-12-01T00:00:00.000Z',
      storageByteSeconds: '11400000',
      storageBilledByteHours: '6000',
      storageStartedHours: 2,
      storagePeakBytes: '3000',
      endpointsActive: 3,
      endpointUnitsPeak: 2,
      endpoints: ['a', 'b', 'c'],
    });
    const december = (await ledgers()).find((c) => c.metadata?.name === dec);
    const state = stateFromJson(december?.data?.[STATE_KEY] ?? '');
    expect({ seen: state.endpointsSeen, peak: state.endpointUnitsPeak, closedUntil: new Date(state.closedUntilS * 1000).toISOString() }).toEqual({ seen: ['b', 'c'], peak: 2, closedUntil: '2026-12-01T02:00:00.000Z' });
    expect((await ledgers()).find((c) => c.metadata?.name === nov)?.metadata?.labels?.['tenantbackup.io/usage-state']).toBe('closed');

    // The old process, still holding November as it wrote it at 23:10, samples once more: its write
    // is on a stale resourceVersion, refused, and the ledger stays as it is.
    const versions = (await ledgers()).map((c) => c.metadata?.resourceVersion);
    setClock('2026-12-01T02:40:00Z');
    await previous?.metering.controller.process(tenant);
    expect((await ledgers()).map((c) => c.metadata?.resourceVersion)).toEqual(versions);
    expect(await storedRecords()).toEqual(after);
  });

  it('prints the ledger for a billing import and November\'s statement', async () => {
    const all = await run(process.execPath, [entryPoint, 'usage-ledger', '--kubeconfig', kubeconfigPath, '--namespace', operatorNamespace, '--tenant', tenant]);
    expect(all.stderr).toBe('');
    const lines = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as UsageEvent);
    expect(lines.map((e) => [e.type, e.data.periodStart])).toEqual([
      ['io.tenantbackup.usage.hour.v1', '2026-11-30T22:00:00.000Z'],
      ['io.tenantbackup.usage.hour.v1', '2026-11-30T23:00:00.000Z'],
      ['io.tenantbackup.usage.month.v1', '2026-11-01T00:00:00.000Z'],
      ['io.tenantbackup.usage.hour.v1', '2026-12-01T00:00:00.000Z'],
    ]);
    const statement = await run(process.execPath, [entryPoint, 'usage-ledger', '--kubeconfig', kubeconfigPath, '--namespace', operatorNamespace, '--tenant', tenant, '--month', '2026-11', '--statement']);
    const month = JSON.parse(statement.stdout) as UsageEvent;
    expect({ specversion: month.specversion, subject: month.subject, time: month.time, billed: month.data.storageBilledByteHours }).toEqual({ specversion: '1.0', subject: tenant, time: '2026-12-01T00:00:00.000Z', billed: '6000' });
    const open = await run(process.execPath, [entryPoint, 'usage-ledger', '--kubeconfig', kubeconfigPath, '--namespace', operatorNamespace, '--tenant', tenant, '--month', '2026-12', '--statement']);
    expect(open.code).not.toBe(0);
    expect(open.stderr).toContain('the month has not ended');
  });
  it('meters a deleted tenant\'s last month to its end with zero usage, then opens no other', async () => {
    const current = runner;
    if (!current) throw new Error('no runner');
    await client.request({ method: 'DELETE', path: objectPath(API.Tenant, tenant) });
    await eventually('the tenant to leave the cache', async () => (current.informers.for(API.Tenant).get(tenant) ? undefined : true));
    setClock('2026-12-15T00:00:00Z');
    await current.metering.controller.process(tenant);
    // Restarted with its workers running: no Tenant names it any more, the open ledger does.
    current.close();
    setClock('2027-01-01T00:10:00Z');
    const restarted = new Runner();
    runner = restarted;
    void restarted.metering.controller.run(restarted.stop.signal);
    const dec = ledgerName(tenant, '2026-12');
    const december = await eventually('December to close', async () => (await ledgers()).find((c) => c.metadata?.name === dec && c.metadata.labels?.['tenantbackup.io/usage-state'] === 'closed'));
    expect((await ledgers()).map((c) => c.metadata?.name).sort()).toEqual([ledgerName(tenant, '2026-11'), dec]);
    expect(december?.metadata?.labels?.['tenantbackup.io/usage-state']).toBe('closed');
    // December: only hour 00 held storage (2000 × 1200 + 500 × 2400 s); b and c existed in it, c until the deletion.
    expect(JSON.parse(december?.data?.['month-2026-12.json'] ?? '{}')).toMatchObject({
      type: 'io.tenantbackup.usage.month.v1',
      time: '2027-01-01T00:00:00.000Z',
      data: { storageByteSeconds: '3600000', storageBilledByteHours: '2000', storageStartedHours: 1, storagePeakBytes: '2000', endpointsActive: 2, endpointUnitsPeak: 2, endpoints: ['b', 'c'] },
    });
    const versions = (await ledgers()).map((c) => c.metadata?.resourceVersion);
    setClock('2027-01-01T01:10:00Z');
    await restarted.metering.controller.process(tenant);
    expect((await ledgers()).map((c) => c.metadata?.resourceVersion)).toEqual(versions);
  });
});
