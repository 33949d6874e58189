/**
 * Scale (not a test): N tenants, each with 2 people, 2 spaces and 5 endpoints per space, created at
 * once on the real control plane with kwok nodes; then what a provider running a fleet watches:
 *   - convergence: time until every Tenant, BackupSpace and Endpoint is Ready;
 *   - footprint: the operator's peak RSS and CPU seconds over that convergence;
 *   - quiet: mutating requests the API server served over 60 s of idle (its own
 *     apiserver_request_total, by resource; leases and what kwok and the controllers write apart);
 *   - restart: after an operator restart and its full resync, how many objects' resourceVersion moved;
 *   - latency: spec edit of an endpoint → Ready with the edit observed, p50 and p99;
 *   - faults, each ending in a full convergence check (every object Ready, every space's key id kept,
 *     exactly one key Secret per space and one credentials Secret per endpoint): SIGKILL of the
 *     operator during bulk creation; etcd compaction then a kube-apiserver crash (watches resume
 *     from a compacted version: 410 Gone, re-list); owned objects deleted at random.
 *
 * Environment:
 *   BENCH_SCALE_TENANTS  how many tenants (default 20; the issue's headline is 1,000)
 *   BENCH_SCALE_EDITS    how many edits for the latency figure (default 20)
 *   BENCH_QUIET_SECONDS  idle window (default 60)
 *   BENCH_SCALE_FAULTS   0 to skip the faults (default 1)
 *   BENCH_SCALE_FLOOR    0 to skip the floor (default 1): the same objects applied by one client on a
 *                        fresh control plane (scale-floor.ts); the ratio operator/floor is the figure
 * Writes .bench/scale.json and .bench/scale.txt.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { API } from '../src/api/refs.ts';
import type { Tenant } from '../src/api/types.ts';
import { ENDPOINT_LABEL, SECRET_TYPE_LABEL, SPACE_LABEL, tenantNamespaceName } from '../src/controllers/labels.ts';
import { KubeClient } from '../src/runtime/kube/client.ts';
import { isConflict, isNotFound } from '../src/runtime/kube/errors.ts';
import { collectionPath, K8S, type ResourceRef } from '../src/runtime/kube/resource-ref.ts';
import { defaultBinDir, restartApiServer, startCluster, stopCluster, type ClusterState } from '../test/harness/controlplane.ts';
import { datacenterVolume } from '../test/harness/seed.ts';
import { SIMULATED_DATACENTERS, VOLUMES_PER_DATACENTER } from '../test/harness/topology.ts';
import { ensureDatacenters } from '../test/support/cluster-objects.ts';
import { installCrds } from '../test/support/crds.ts';
import { eventually, sleep } from '../test/support/kube.ts';
import { endpoint as endpointObject, space as spaceObject, tenant as tenantObject } from '../test/support/objects.ts';
import { loopbackKeyServiceArgs, OperatorProcess } from '../test/support/operator.ts';
import { USAGE_MONTH_LABEL } from '../src/metering/ledger.ts';
import { cpuSeconds, peakRssMiB } from './process-usage.ts';
import { list, pool } from './fleet-client.ts';
import { captureFleet, runFloor, type CapturedFleet, type FloorFigures } from './scale-floor.ts';
import { freePort } from '../test/harness/ports.ts';

const OPERATOR_NAMESPACE = 'tenant-backup-system';
const SPACE_DATACENTERS = ['it-mil1', 'it-rom1'] as const;
const ENDPOINTS_PER_SPACE = 5;
/** Concurrency of the bench's own client: the same for every phase, so phases compare. */
const CLIENT_CONCURRENCY = 16;

interface Named { metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number; labels?: Record<string, string> }; status?: { observedGeneration?: number; keyId?: string; conditions?: { type: string; status: string; observedGeneration?: number }[] } }

function tenantName(index: number): string {
  return `scale-${String(index).padStart(4, '0')}`;
}

function tenantFor(index: number): Tenant {
  const name = tenantName(index);
  return tenantObject(name, {
    quotas: { storage: '100Gi', spaces: 2, endpoints: 2 * ENDPOINTS_PER_SPACE },
    users: [{ name: 'anna', email: `anna@${name}.example`, role: 'admin' }, { name: 'bruno', email: `bruno@${name}.example`, role: 'viewer' }],
  });
}

/** The space and endpoint manifests of a tenant, in creation order. */
function childrenOf(index: number): { ref: ResourceRef; body: Named }[] {
  const namespace = tenantNamespaceName(tenantName(index));
  return SPACE_DATACENTERS.flatMap((datacenter, s) => {
    const space = `space-${s}`;
    const spaceBody = spaceObject(space, namespace, { size: '10Gi', datacenter, replicas: 1 });
    const endpoints = Array.from({ length: ENDPOINTS_PER_SPACE }, (_, e) => endpointObject(`device-${s}-${e}`, namespace, space));
    return [spaceBody, ...endpoints].map((o) => ({ ref: o.kind === 'BackupSpace' ? API.BackupSpace : API.Endpoint, body: { ...o, metadata: { name: o.metadata.name, namespace } } }));
  });
}

/** Creates an object, waiting for its namespace (the operator makes it) when it is not there yet. */
async function createWhenPossible(client: KubeClient, ref: ResourceRef, body: Named): Promise<void> {
  await eventually(`${ref.kind} ${body.metadata?.namespace}/${body.metadata?.name} created`, async () => {
    try {
      await client.request({ method: 'POST', path: collectionPath(ref, body.metadata?.namespace), body });
      return true;
    } catch (error) {
      if (isConflict(error)) return true;
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }, { timeoutMs: 30 * 60_000, intervalMs: 500 });
}

/** Ready for the generation it has now (kstatus Current). */
function ready(object: Named): boolean {
  const generation = object.metadata?.generation ?? 0;
  const condition = object.status?.conditions?.find((c) => c.type === 'Ready');
  return (object.status?.observedGeneration ?? 0) >= generation && condition?.status === 'True' && (condition.observedGeneration ?? generation) >= generation;
}

async function countReady(client: KubeClient): Promise<{ tenants: number; spaces: number; endpoints: number }> {
  const [tenants, spaces, endpoints] = await Promise.all([API.Tenant, API.BackupSpace, API.Endpoint].map((ref) => list<Named>(client, ref)));
  return { tenants: (tenants ?? []).filter(ready).length, spaces: (spaces ?? []).filter(ready).length, endpoints: (endpoints ?? []).filter(ready).length };
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY', 'CREATE', 'UPDATE']);
/**
 * Written by kube-controller-manager, kube-scheduler and kwok, never by the operator (it writes no
 * pods, ReplicaSets or core Endpoints), or by the bench reading the operator's metrics (a token, its
 * review). Events are counted: the operator records them. Only requests that changed something (2xx)
 * count: an idempotent create answered 409 wrote nothing.
 */
const NOT_THE_OPERATORS = new Set(['nodes', 'pods', 'replicasets.apps', 'endpoints', 'endpointslices.discovery.k8s.io', 'serviceaccounts/token', 'tokenreviews.authentication.k8s.io', 'subjectaccessreviews.authorization.k8s.io']);

/** Mutating requests the API server has served so far, by resource. */
function mutatingRequests(kubeconfig: string): Map<string, number> {
  const text = execFileSync(join(defaultBinDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const byResource = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    if (!MUTATING.has(verb) || !/code="2\d\d"/.test(line)) continue;
    const group = /group="([^"]+)"/.exec(line)?.[1];
    const subresource = /subresource="([^"]+)"/.exec(line)?.[1];
    const resource = `${/resource="([^"]*)"/.exec(line)?.[1] ?? ''}${group ? `.${group}` : ''}${subresource ? `/${subresource}` : ''}`;
    byResource.set(resource, (byResource.get(resource) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return byResource;
}

function difference(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [resource, count] of after) {
    const moved = count - (before.get(resource) ?? 0);
    if (moved > 0) delta[resource] = moved;
  }
  return delta;
}

/** The operator's own writes among them: leases (its leader election) counted apart. */
function operatorWrites(delta: Record<string, number>): { writes: number; leases: number } {
  let writes = 0;
  let leases = 0;
  for (const [resource, count] of Object.entries(delta)) {
    const base = resource.split('/')[0] ?? '';
    if (base === 'leases.coordination.k8s.io') leases += count;
    else if (!NOT_THE_OPERATORS.has(base) && !NOT_THE_OPERATORS.has(resource)) writes += count;
  }
  return { writes, leases };
}

/** resourceVersion of every object of the fleet: our kinds and what the operator owns in tenant namespaces. */
async function fleetVersions(client: KubeClient): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  const owned = [K8S.Secret, K8S.ConfigMap, K8S.Service, K8S.Deployment, K8S.PersistentVolumeClaim, K8S.NetworkPolicy, K8S.ServiceAccount, K8S.Role, K8S.RoleBinding, K8S.ResourceQuota, K8S.PodDisruptionBudget];
  for (const ref of [API.Tenant, API.BackupSpace, API.Endpoint, API.Datacenter, K8S.Namespace, ...owned]) {
    for (const item of await list<Named>(client, ref)) {
      const namespace = item.metadata?.namespace ?? '';
      if (ref !== API.Tenant && ref !== API.BackupSpace && ref !== API.Endpoint && ref !== API.Datacenter && !(namespace.startsWith('tenant-scale-') || item.metadata?.name?.startsWith('tenant-scale-'))) continue;
      versions.set(`${ref.plural}/${namespace}/${item.metadata?.name}`, item.metadata?.resourceVersion ?? '');
    }
  }
  return versions;
}

/**
 * The controllers that write to the API server. The gateway-report poller is left out: it asks every
 * gateway for its report on a timer (a read, never a write), so its count never stops moving.
 */
const WRITING_CONTROLLERS = ['tenant', 'backupspace', 'endpoint', 'access', 'datacenter'];

/** Waits until the writing controllers' reconcile counters stop moving over 5 s and their queues are empty. */
async function settled(operator: OperatorProcess): Promise<void> {
  let last = '';
  await eventually('the operator to settle', async () => {
    const counts = await Promise.all(WRITING_CONTROLLERS.map(async (controller) => [
      await operator.metric('controller_runtime_reconcile_total', { controller }),
      await operator.metric('workqueue_depth', { name: controller }),
    ]));
    const now = JSON.stringify(counts.map(([reconciles]) => reconciles));
    const still = now === last && counts.every(([, depth]) => depth === 0);
    last = now;
    return still ? true : undefined;
  }, { timeoutMs: 30 * 60_000, intervalMs: 5_000 });
}

/**
 * Waits until no usage ledger changed over one metering interval (60 s by default): the metering
 * runner writes a tenant's new figures at its next look, up to an interval after they changed, and
 * otherwise only when an hour closes.
 */
async function meteringSettled(client: KubeClient, intervalMs = 65_000): Promise<void> {
  const versions = async () => JSON.stringify((await list<Named>(client, K8S.ConfigMap, { labelSelector: USAGE_MONTH_LABEL })).map((c) => `${c.metadata?.name}@${c.metadata?.resourceVersion}`).sort());
  let before = await versions();
  for (let round = 0; round < 10; round++) {
    await sleep(intervalMs);
    const after = await versions();
    if (after === before) return;
    before = after;
  }
  throw new Error('the usage ledgers kept changing for 10 metering intervals');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Volumes for every space beyond the ones the harness seeds, in the datacenters the bench uses. */
async function addVolumes(client: KubeClient, count: number): Promise<void> {
  const datacenters = SIMULATED_DATACENTERS.filter((dc) => (SPACE_DATACENTERS as readonly string[]).includes(dc.zone));
  const volumes = datacenters.flatMap((dc) => Array.from({ length: Math.max(0, count - VOLUMES_PER_DATACENTER) }, (_, i) => datacenterVolume(dc, VOLUMES_PER_DATACENTER + i + 1)));
  await pool(volumes, CLIENT_CONCURRENCY, async (volume) => {
    await client.request({ method: 'POST', path: '/api/v1/persistentvolumes', body: volume });
  });
}

/** What must survive every fault: each space's key id, and the count of each kind of secret. */
interface Integrity {
  keyIds: Map<string, string>;
  spaceKeys: number;
  endpointCredentials: number;
}

async function integrity(client: KubeClient): Promise<Integrity> {
  const spaces = await list<Named>(client, API.BackupSpace);
  const secrets = await list<Named>(client, K8S.Secret, { labelSelector: SECRET_TYPE_LABEL });
  const ofType = (type: string, owner: string) => new Set(secrets.filter((s) => s.metadata?.labels?.[SECRET_TYPE_LABEL] === type).map((s) => `${s.metadata?.namespace}/${s.metadata?.labels?.[owner]}`));
  const typed = (type: string) => secrets.filter((s) => s.metadata?.labels?.[SECRET_TYPE_LABEL] === type).length;
  // As many Secrets of a type as distinct owners: a second one for the same space or endpoint is a duplicate.
  const spaceKeys = typed('space-key');
  const endpointCredentials = typed('endpoint-credentials');
  if (spaceKeys !== ofType('space-key', SPACE_LABEL).size || endpointCredentials !== ofType('endpoint-credentials', ENDPOINT_LABEL).size) throw new Error('duplicate key or credentials Secrets');
  return { keyIds: new Map(spaces.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s.status?.keyId ?? ''])), spaceKeys, endpointCredentials };
}

/** Every object Ready again and nothing lost or doubled, as `before` says. */
async function convergedIntact(client: KubeClient, expected: { tenants: number; spaces: number; endpoints: number }, before: Integrity): Promise<{ seconds: number; lostKeys: number; spaceKeys: number; endpointCredentials: number }> {
  const start = process.hrtime.bigint();
  await eventually(`every object Ready again (${JSON.stringify(expected)})`, async () => {
    const seen = await countReady(client);
    return seen.tenants >= expected.tenants && seen.spaces >= expected.spaces && seen.endpoints >= expected.endpoints ? true : undefined;
  }, { timeoutMs: 30 * 60_000, intervalMs: 1_000 });
  const after = await integrity(client);
  const lostKeys = [...before.keyIds].filter(([space, keyId]) => after.keyIds.get(space) !== keyId).length;
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, lostKeys, spaceKeys: after.spaceKeys, endpointCredentials: after.endpointCredentials };
}

/** The etcd revision now, and a compaction of everything before it (etcd's JSON gateway). */
async function compactEtcd(cluster: ClusterState): Promise<number> {
  const base = `http://127.0.0.1:${cluster.ports.etcd}/v3/kv`;
  const range = await fetch(`${base}/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
  const revision = Number(((await range.json()) as { header: { revision: string } }).header.revision);
  const compaction = await fetch(`${base}/compaction`, { method: 'POST', body: JSON.stringify({ revision: String(revision), physical: true }) });
  if (!compaction.ok) throw new Error(`etcd compaction answered ${compaction.status}: ${await compaction.text()}`);
  return revision;
}

/** A deterministic pick of about `share` of `items` (the same run after run). */
function pick<T>(items: readonly T[], share: number): T[] {
  const every = Math.max(1, Math.round(1 / share));
  return items.filter((_, i) => i % every === 0);
}

interface FaultRun {
  operator: OperatorProcess;
  results: Record<string, unknown>;
}

async function runFaults(client: KubeClient, cluster: ClusterState, operatorArgs: string[], running: OperatorProcess, count: number): Promise<FaultRun> {
  const results: Record<string, unknown> = {};
  let operator = running;
  const extra = Math.max(2, Math.round(count / 5));
  const total = count + extra;
  const expected = (tenants: number) => ({ tenants, spaces: tenants * SPACE_DATACENTERS.length, endpoints: tenants * SPACE_DATACENTERS.length * ENDPOINTS_PER_SPACE });

  // 1. SIGKILL while a batch of new tenants is being created: the next process finishes the work.
  const before = await integrity(client);
  const batch = Array.from({ length: extra }, (_, i) => count + i);
  const creating = (async () => {
    await pool(batch, CLIENT_CONCURRENCY, async (i) => {
      const t = tenantFor(i);
      await client.request({ method: 'POST', path: collectionPath(API.Tenant), body: { ...t, metadata: { name: t.metadata.name } } });
    });
    await pool(batch.flatMap(childrenOf), CLIENT_CONCURRENCY, ({ ref, body }) => createWhenPossible(client, ref, body));
  })();
  await sleep(1_500);
  await operator.stop('SIGKILL');
  operator = await OperatorProcess.start(cluster.kubeconfig, operatorArgs);
  await creating;
  results.leaderKilledDuringCreation = { newTenants: extra, ...(await convergedIntact(client, expected(total), before)) };

  // 2. etcd compacted, then kube-apiserver crashes: every watch resumes from a compacted version.
  const beforeRestart = await integrity(client);
  const expiredBefore = await operator.metric('tenantbackup_watch_restarts_total', { reason: 'expired' });
  const revision = await compactEtcd(cluster);
  await restartApiServer(cluster.dir);
  // An edit made after the restart must still be seen: the watches recovered.
  const namespace = tenantNamespaceName(tenantName(0));
  await client.request({ method: 'PATCH', path: `${collectionPath(API.Endpoint, namespace)}/device-1-0`, body: { spec: { selection: { include: ['/srv/after-restart'] } } }, contentType: 'application/merge-patch+json' });
  const restart = await convergedIntact(client, expected(total), beforeRestart);
  results.apiServerRestartAfterCompaction = { compactedAtRevision: revision, watchesExpired: (await operator.metric('tenantbackup_watch_restarts_total', { reason: 'expired' })) - expiredBefore, ...restart };

  // 3. Owned objects deleted at random (a tenth of the gateways' Deployments, Services, policies and configurations).
  const beforeDeletion = await integrity(client);
  const victims: { ref: ResourceRef; namespace: string; name: string }[] = [];
  for (const ref of [K8S.Deployment, K8S.Service, K8S.NetworkPolicy]) {
    for (const item of pick((await list<Named>(client, ref)).filter((o) => o.metadata?.namespace?.startsWith('tenant-scale-')), 0.1)) victims.push({ ref, namespace: item.metadata?.namespace ?? '', name: item.metadata?.name ?? '' });
  }
  for (const item of pick((await list<Named>(client, K8S.Secret, { labelSelector: `${SECRET_TYPE_LABEL}=gateway-config` })), 0.1)) victims.push({ ref: K8S.Secret, namespace: item.metadata?.namespace ?? '', name: item.metadata?.name ?? '' });
  await pool(victims, CLIENT_CONCURRENCY, async ({ ref, namespace: ns, name }) => {
    await client.request({ method: 'DELETE', path: `${collectionPath(ref, ns)}/${name}` });
  });
  const deletion = await convergedIntact(client, expected(total), beforeDeletion);
  const recreated = await eventually('every deleted object to be recreated', async () => {
    for (const { ref, namespace: ns, name } of victims) {
      try {
        await client.request({ method: 'GET', path: `${collectionPath(ref, ns)}/${name}` });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    }
    return true;
  }, { timeoutMs: 10 * 60_000, intervalMs: 1_000 });
  results.ownedObjectsDeleted = { deleted: victims.length, recreated, ...deletion };
  return { operator, results };
}

/** A control plane as both the operator's run and the floor's start from: CRDs, datacenters, volumes. */
async function prepareCluster(client: KubeClient, count: number): Promise<void> {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: OPERATOR_NAMESPACE } } });
  // Room for the spaces of the tenants the faults add.
  await addVolumes(client, count + Math.max(2, Math.round(count / 5)));
}

/** The floor on a fresh control plane, so the operator's cluster and its leftovers cost it nothing. */
async function floorOnFreshCluster(fleet: CapturedFleet, count: number): Promise<FloorFigures> {
  const cluster = await startCluster({ name: `scale-floor-${process.pid}` });
  try {
    const client = KubeClient.load(cluster.kubeconfig);
    await prepareCluster(client, count);
    return await runFloor(client, fleet, CLIENT_CONCURRENCY);
  } finally {
    await stopCluster(cluster.dir);
  }
}

export async function runScaleBenchmark(): Promise<void> {
  const count = Number(process.env.BENCH_SCALE_TENANTS ?? 20);
  const edits = Number(process.env.BENCH_SCALE_EDITS ?? 20);
  const quietSeconds = Number(process.env.BENCH_QUIET_SECONDS ?? 60);
  const withFaults = process.env.BENCH_SCALE_FAULTS !== '0';
  const withFloor = process.env.BENCH_SCALE_FLOOR !== '0';
  let fleet: CapturedFleet | undefined;
  let stopped = false;
  const cluster = await startCluster({ name: `scale-${process.pid}` });
  try {
    const client = KubeClient.load(cluster.kubeconfig);
    await prepareCluster(client, count);
    // A fixed key-service port, as in a cluster: with port 0 a restarted operator would render other gateway args.
    const operatorArgs = ['--namespace', OPERATOR_NAMESPACE, '--gateway-image', 'registry.invalid/tenant-backup-operator:bench', '--log-level', 'info', ...loopbackKeyServiceArgs(await freePort())];
    let operator = await OperatorProcess.start(cluster.kubeconfig, operatorArgs);

    // Convergence: every object posted at once (children as soon as their namespace exists).
    const start = process.hrtime.bigint();
    const indexes = Array.from({ length: count }, (_, i) => i);
    await pool(indexes, CLIENT_CONCURRENCY, async (i) => {
      const t = tenantFor(i);
      await client.request({ method: 'POST', path: collectionPath(API.Tenant), body: { ...t, metadata: { name: t.metadata.name } } });
    });
    await pool(indexes.flatMap(childrenOf), CLIENT_CONCURRENCY, ({ ref, body }) => createWhenPossible(client, ref, body));
    const postedSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const expected = { tenants: count, spaces: count * SPACE_DATACENTERS.length, endpoints: count * SPACE_DATACENTERS.length * ENDPOINTS_PER_SPACE };
    let seen = { tenants: 0, spaces: 0, endpoints: 0 };
    await eventually(`every object Ready (${JSON.stringify(expected)})`, async () => {
      seen = await countReady(client);
      return seen.tenants >= expected.tenants && seen.spaces >= expected.spaces && seen.endpoints >= expected.endpoints ? true : undefined;
    }, { timeoutMs: 60 * 60_000, intervalMs: 1_000 });
    const convergedSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const footprint = { cpuSeconds: await cpuSeconds(operator.pid), peakRssMiB: await peakRssMiB(operator.pid) };
    const reconciles = await operator.metric('controller_runtime_reconcile_total');

    // Quiet: what is written while nothing changes.
    await settled(operator);
    await meteringSettled(client);
    // The converged fleet, for the floor to apply (reads only: the quiet window below is not disturbed).
    if (withFloor) fleet = await captureFleet(client, 'scale-', 'tenant-scale-');
    const before = mutatingRequests(cluster.kubeconfig);
    await sleep(quietSeconds * 1000);
    const idle = difference(mutatingRequests(cluster.kubeconfig), before);

    // Restart: a new process resyncs everything and should write nothing.
    const versionsBefore = await fleetVersions(client);
    await operator.stop();
    const beforeRestart = mutatingRequests(cluster.kubeconfig);
    operator = await OperatorProcess.start(cluster.kubeconfig, operatorArgs);
    await operator.waitForLog('the controllers to sync', (l) => l.msg === 'caches synced; starting workers', 120_000);
    await settled(operator);
    const afterRestart = difference(mutatingRequests(cluster.kubeconfig), beforeRestart);
    const versionsAfter = await fleetVersions(client);
    const moved = [...versionsBefore].filter(([key, version]) => versionsAfter.get(key) !== version).map(([key]) => key);

    // Latency: one endpoint edit at a time, until it is observed and Ready.
    const latencies: number[] = [];
    for (let e = 0; e < edits; e++) {
      const namespace = tenantNamespaceName(tenantName(e % count));
      const name = `device-0-${e % ENDPOINTS_PER_SPACE}`;
      const editStart = process.hrtime.bigint();
      await client.request({ method: 'PATCH', path: `${collectionPath(API.Endpoint, namespace)}/${name}`, body: { spec: { selection: { include: [`/srv/edit-${e}`] } } }, contentType: 'application/merge-patch+json' });
      await eventually(`endpoint ${namespace}/${name} to observe its edit`, async () => {
        const object = await client.request<Named>({ method: 'GET', path: `${collectionPath(API.Endpoint, namespace)}/${name}` });
        return ready(object) ? true : undefined;
      }, { timeoutMs: 120_000, intervalMs: 20 });
      latencies.push(Number(process.hrtime.bigint() - editStart) / 1e6);
    }
    latencies.sort((a, b) => a - b);

    let faults: Record<string, unknown> = {};
    if (withFaults) ({ operator, results: faults } = await runFaults(client, cluster, operatorArgs, operator, count));
    await operator.stop();
    await stopCluster(cluster.dir);
    stopped = true;
    const floor = fleet ? await floorOnFreshCluster(fleet, count) : undefined;

    const result = {
      benchmark: 'scale',
      date: new Date().toISOString(),
      environment: { node: process.version, cpus: cpus().length, loadAverageAtStart: loadavg() },
      tenants: count,
      objects: { ...expected, people: count * 2 },
      convergence: { postedSeconds, convergedSeconds, reconciles, ...(floor ? { floor, ratioToFloor: convergedSeconds / floor.seconds } : {}) },
      footprint: { operatorPeakRssMiB: Math.round(footprint.peakRssMiB), operatorCpuSeconds: footprint.cpuSeconds },
      quiet: { seconds: quietSeconds, mutatingByResource: idle, ...operatorWrites(idle) },
      restart: { objects: versionsBefore.size, resourceVersionsMoved: moved.length, movedExamples: moved.slice(0, 10), mutatingByResource: afterRestart, ...operatorWrites(afterRestart) },
      editLatencyMs: { edits, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
      faults,
    };
    const table = [
      `scale: ${count} tenants, ${expected.spaces} spaces, ${expected.endpoints} endpoints, ${count * 2} people (${cpus().length} cpus)`,
      `  converged (every object Ready):  ${convergedSeconds.toFixed(1)} s (all posted after ${postedSeconds.toFixed(1)} s; ${reconciles} reconciles)`,
      ...(floor ? [`  floor (same objects, one client):  ${floor.seconds.toFixed(1)} s (crypto ${floor.cryptoSeconds.toFixed(1)} s, ${floor.objectsApplied} objects applied in ${floor.applySeconds.toFixed(1)} s); operator/floor ${(convergedSeconds / floor.seconds).toFixed(2)} (goal ≤ 1.5)`] : []),
      `  operator footprint:              ${result.footprint.operatorPeakRssMiB} MiB peak RSS, ${footprint.cpuSeconds.toFixed(1)} CPU-s`,
      `  idle ${quietSeconds} s:                      ${result.quiet.writes} operator writes (${result.quiet.leases} lease renewals): ${JSON.stringify(idle)}`,
      `  restart:                         ${moved.length} of ${versionsBefore.size} objects changed; ${result.restart.writes} writes`,
      `  edit → Ready:                    p50 ${result.editLatencyMs.p50.toFixed(0)} ms, p99 ${result.editLatencyMs.p99.toFixed(0)} ms (${edits} edits)`,
      ...Object.entries(faults).map(([fault, figures]) => `  fault ${fault}: ${JSON.stringify(figures)}`),
    ].join('\n');
    const out = resolve(import.meta.dirname, '../.bench');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
    await writeFile(join(out, 'scale.txt'), `${table}\n`);
    console.log(`${table}\n  written to .bench/scale.json and .bench/scale.txt`);
  } finally {
    if (!stopped) await stopCluster(cluster.dir);
  }
}

