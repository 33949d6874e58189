/**
 * Convergence at scale (not a test): how long the operator takes to turn N Tenants into their
 * namespaces, quotas, limits, network policies and RBAC on the real control plane, against the
 * plainest tool doing the same work — one `kubectl apply --server-side` of exactly the objects the
 * operator would create (rendered with the same pure functions) — in one run on one cluster.
 *
 * Environment:
 *   BENCH_TENANTS   how many tenants (default 200)
 * Writes .bench/convergence.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { API } from '../src/api/refs.ts';
import type { Tenant } from '../src/api/types.ts';
import { desiredNamespace, desiredNamespacedObjects } from '../src/controllers/tenant/desired.ts';
import { KubeClient } from '../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../src/runtime/kube/resource-ref.ts';
import { defaultBinDir, startCluster, stopCluster } from '../test/harness/controlplane.ts';
import { installCrds } from '../test/support/crds.ts';
import { eventually } from '../test/support/kube.ts';
import { tenant as tenantObject } from '../test/support/objects.ts';
import { OperatorProcess } from '../test/support/operator.ts';
import { peakRssMiB } from './process-usage.ts';

const SETTINGS = { operatorNamespace: 'tenant-backup-system', adminNamespaces: ['kube-system'], clusterCidrs: ['10.0.0.0/8'], adminCidrs: [], userPrefix: '' };

function tenants(prefix: string, count: number): Tenant[] {
  // No people: their 2FA enrolments (a slow password hash each) are work kubectl would not do.
  return Array.from({ length: count }, (_, i) => tenantObject(`${prefix}-${i}`, {}, `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`));
}

/** Tenants whose last desired object (the viewer Role) exists: everything before it was applied. */
async function countBuilt(client: KubeClient, prefix: string): Promise<number> {
  const list = await client.request<{ items: { metadata: { name: string; namespace: string } }[] }>({ method: 'GET', path: collectionPath(K8S.Role), query: { labelSelector: 'tenantbackup.io/tenant' } });
  return list.items.filter((r) => r.metadata.name === 'tenant-viewer' && r.metadata.namespace.startsWith(`tenant-${prefix}-`)).length;
}

export async function runConvergenceBenchmark(): Promise<void> {
  const count = Number(process.env.BENCH_TENANTS ?? 200);
  const cluster = await startCluster({ name: `bench-${process.pid}` });
  try {
    const client = KubeClient.load(cluster.kubeconfig);
    await installCrds(client);
    await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: SETTINGS.operatorNamespace } } });
    const kubectl = join(defaultBinDir, 'kubectl');

    // Baseline: the same objects, applied in one go by kubectl. Owner references need real uids,
    // so the baseline applies the owned objects without them (the work is the same).
    const baseline = tenants('plain', count).flatMap((t) => [desiredNamespace(t), ...desiredNamespacedObjects(t, SETTINGS)])
      .map((o) => ({ ...o, metadata: { ...o.metadata, ownerReferences: undefined } }));
    const manifest = join(tmpdir(), `convergence-${process.pid}.yaml`);
    // Namespaces first: kubectl applies in file order.
    baseline.sort((a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'));
    await writeFile(manifest, baseline.map((o) => stringify(JSON.parse(JSON.stringify(o)))).join('---\n'));
    const baselineStart = process.hrtime.bigint();
    execFileSync(kubectl, ['--kubeconfig', cluster.kubeconfig, 'apply', '--server-side', '--field-manager=bench', '-f', manifest], { stdio: 'ignore', maxBuffer: 64 * 1024 * 1024 });
    const baselineSeconds = Number(process.hrtime.bigint() - baselineStart) / 1e9;

    // The operator, from N Tenants created at once to every one Ready (its quota counted by the API server).
    const operator = await OperatorProcess.start(cluster.kubeconfig, ['--namespace', SETTINGS.operatorNamespace, '--log-level', 'info', '--concurrency', '4']);
    const created = tenants('op', count);
    const start = process.hrtime.bigint();
    await Promise.all(created.map((t) => client.request({ method: 'POST', path: collectionPath(API.Tenant), body: { ...t, metadata: { name: t.metadata.name } } })));
    let builtSeconds = 0;
    await eventually('every tenant built', async () => {
      if ((await countBuilt(client, 'op')) < count) return undefined;
      builtSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      return true;
    }, { timeoutMs: 30 * 60_000, intervalMs: 200 });
    await eventually('every tenant Ready', async () => {
      const list = await client.request<{ items: Tenant[] }>({ method: 'GET', path: collectionPath(API.Tenant) });
      const ready = list.items.filter((t) => t.metadata.name?.startsWith('op-') && t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length >= count ? true : undefined;
    }, { timeoutMs: 30 * 60_000, intervalMs: 500 });
    const readySeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const reconciles = await operator.metric('controller_runtime_reconcile_total', { controller: 'tenant' });
    const rss = await peakRssMiB(operator.pid);
    await operator.stop();

    const result = {
      benchmark: 'convergence',
      date: new Date().toISOString(),
      environment: { node: process.version, cpus: cpus().length, loadAverageAtStart: loadavg() },
      tenants: count,
      objectsPerTenant: baseline.length / count,
      kubectlApplySeconds: baselineSeconds,
      operatorAllBuiltSeconds: builtSeconds,
      operatorAllReadySeconds: readySeconds,
      ratioBuiltToKubectl: builtSeconds / baselineSeconds,
      tenantReconciles: reconciles,
      operatorPeakRssMiB: Math.round(rss),
    };
    const out = resolve(import.meta.dirname, '../.bench');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'convergence.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log([
      `convergence of ${count} tenants (${result.objectsPerTenant} objects each):`,
      `  kubectl apply of the same objects: ${baselineSeconds.toFixed(1)} s`,
      `  operator, all built: ${builtSeconds.toFixed(1)} s (ratio ${result.ratioBuiltToKubectl.toFixed(2)}); all Ready (quota counted): ${readySeconds.toFixed(1)} s`,
      `  ${reconciles} tenant reconciles; operator peak RSS ${result.operatorPeakRssMiB} MiB`,
      '  written to .bench/convergence.json',
    ].join('\n'));
  } finally {
    await stopCluster(cluster.dir);
  }
}
