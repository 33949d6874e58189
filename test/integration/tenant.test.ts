/**
 * The runtime and the Tenant controller against the real control plane: a Tenant becomes an isolated,
 * quota-bound namespace; the API server itself enforces the quota; hand-deleted objects come back;
 * work done while the operator was down is picked up; broken watches recover; two replicas never
 * reconcile at once and the standby takes over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Tenant } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { restartApiServer } from '../harness/controlplane.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, refused, uniqueName } from '../support/kube.ts';
import { createSpace, createTenant as createTenantObject, mergePatch, removeTenant as removeTenantObject } from '../support/cluster-objects.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const operators: OperatorProcess[] = [];

interface Named { metadata: { name: string; uid: string; labels?: Record<string, string> } }

async function startOperator(extra: string[] = []): Promise<OperatorProcess> {
  const operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, ...extra]);
  operators.push(operator);
  return operator;
}

const createTenant = (name: string, spec: Partial<Tenant['spec']> = {}) => createTenantObject(client, name, spec);
const removeTenant = (name: string) => removeTenantObject(client, name);

async function getTenant(name: string): Promise<Tenant> {
  return client.request<Tenant>({ method: 'GET', path: objectPath(API.Tenant, name) });
}

async function waitReady(name: string, timeoutMs = 60_000): Promise<Tenant> {
  return eventually(`tenant ${name} to be Ready`, async () => {
    const t = await getTenant(name);
    const ready = t.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' && t.status?.observedGeneration === t.metadata.generation ? t : undefined;
  }, { timeoutMs });
}

async function get<T>(path: string): Promise<T> {
  return client.request<T>({ method: 'GET', path });
}

beforeAll(async () => {
  await installCrds(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop('SIGKILL')));
});

describe('a tenant', () => {
  let operator: OperatorProcess;
  const name = uniqueName('acme');
  const namespace = `tenant-${name}`;

  beforeAll(async () => {
    operator = await startOperator();
    await createTenant(name, {
      quotas: { storage: '20Gi', spaces: 1, endpoints: 3 },
      users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }],
    });
  });

  afterAll(async () => {
    await removeTenant(name);
    await operator.stop();
  });

  it('becomes Ready with its namespace, quota, limits, network policies and RBAC', async () => {
    const ready = await waitReady(name);
    expect(ready.status).toMatchObject({ namespace, phase: 'Active' });
    expect(ready.metadata).toHaveProperty('finalizers', ['tenantbackup.io/tenant-protection']);
    const ns = await get<Named>(objectPath(K8S.Namespace, namespace));
    expect(ns.metadata.labels).toMatchObject({ 'tenantbackup.io/tenant': name, 'pod-security.kubernetes.io/enforce': 'restricted' });
    const quota = await get<{ status: { hard: Record<string, string> } }>(objectPath(K8S.ResourceQuota, 'tenant-quota', namespace));
    expect(quota.status.hard).toMatchObject({ 'requests.storage': '20Gi', 'count/backupspaces.tenantbackup.io': '1', 'count/endpoints.tenantbackup.io': '3' });
    expect(ready.status?.usage?.storage).toEqual({ used: '0', hard: '20Gi' });
    await get(objectPath(K8S.LimitRange, 'tenant-limits', namespace));
    await get(objectPath(K8S.NetworkPolicy, 'default-deny', namespace));
    await get(objectPath(K8S.NetworkPolicy, 'allow-backup-clients', namespace));
    await get(objectPath(K8S.Role, 'tenant-admin', namespace));
    const binding = await get<{ subjects: { name: string }[] }>(objectPath(K8S.RoleBinding, 'user-giulia', namespace));
    expect(binding.subjects[0]?.name).toBe('giulia@example.com');
    const events = await get<{ items: { reason: string; regarding: { name: string } }[] }>(collectionPath(K8S.Event, 'default'));
    expect(events.items.filter((e) => e.regarding.name === name).map((e) => e.reason)).toContain('NamespaceCreated');
  });

  it('has the API server refuse a volume or a space past the quota', async () => {
    await waitReady(name);
    const pvc = (size: string) => ({ metadata: { name: uniqueName('pvc') }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } } });
    await client.request({ method: 'POST', path: collectionPath(K8S.PersistentVolumeClaim, namespace), body: pvc('15Gi') });
    const tooBig = await refused(client.request({ method: 'POST', path: collectionPath(K8S.PersistentVolumeClaim, namespace), body: pvc('10Gi') }));
    expect(tooBig.code).toBe(403);
    expect(tooBig.message).toContain('exceeded quota: tenant-quota');
    expect(tooBig.message).toContain('requests.storage');

    await createSpace(client, 'first', namespace, { size: '5Gi', datacenter: 'it-mil1' });
    const second = await refused(createSpace(client, 'second', namespace, { size: '5Gi', datacenter: 'it-mil1' }));
    expect(second.code).toBe(403);
    expect(second.message).toContain('count/backupspaces.tenantbackup.io');
    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, 'first', namespace) });
  });

  it('recreates objects deleted by hand', async () => {
    await waitReady(name);
    const paths = [
      objectPath(K8S.ResourceQuota, 'tenant-quota', namespace),
      objectPath(K8S.NetworkPolicy, 'default-deny', namespace),
      objectPath(K8S.RoleBinding, 'user-giulia', namespace),
    ];
    const before = await Promise.all(paths.map((p) => get<Named>(p)));
    await Promise.all(paths.map((p) => client.request({ method: 'DELETE', path: p })));
    for (const [index, path] of paths.entries()) {
      const restored = await eventually(`${path} to come back`, async () => {
        const object = await get<Named>(path).catch(() => undefined);
        return object && object.metadata.uid !== before[index]?.metadata.uid ? object : undefined;
      });
      expect(restored.metadata.labels?.['tenantbackup.io/tenant']).toBe(name);
    }
  });

  it('converges on edits: quotas, users, and a suspended contract', async () => {
    await mergePatch(client, API.Tenant, name, undefined, { spec: { quotas: { storage: '40Gi', spaces: 2, endpoints: 3 }, users: [{ name: 'marco', email: 'marco@example.com', role: 'viewer' }], contract: { state: 'Suspended' } } });
    const suspended = await eventually('the tenant to show the suspension', async () => {
      const t = await waitReady(name);
      return t.status?.phase === 'Suspended' ? t : undefined;
    });
    expect(suspended.status?.conditions?.find((c) => c.type === 'ContractActive')).toMatchObject({ status: 'False', reason: 'Suspended' });
    await eventually('the quota to grow', async () => {
      const quota = await get<{ spec: { hard: Record<string, string> } }>(objectPath(K8S.ResourceQuota, 'tenant-quota', namespace));
      return quota.spec.hard['requests.storage'] === '40Gi' ? true : undefined;
    });
    await get(objectPath(K8S.RoleBinding, 'user-marco', namespace));
    await eventually('giulia\'s binding and the client ingress to be pruned', async () => {
      const bindings = await get<{ items: Named[] }>(collectionPath(K8S.RoleBinding, namespace));
      const policies = await get<{ items: Named[] }>(collectionPath(K8S.NetworkPolicy, namespace));
      const names = [...bindings.items, ...policies.items].map((o) => o.metadata.name);
      return !names.includes('user-giulia') && !names.includes('allow-backup-clients') && names.includes('default-deny') ? true : undefined;
    });
    const ns = await get<Named>(objectPath(K8S.Namespace, namespace));
    expect(ns.metadata.labels?.['tenantbackup.io/contract']).toBe('Suspended');
    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { state: 'Active' } } });
    await eventually('client ingress to come back', async () => (await get<Named>(objectPath(K8S.NetworkPolicy, 'allow-backup-clients', namespace)).catch(() => undefined)));
  });

  it('keeps a tenant with spaces when it is deleted without an export waiver, and says why', async () => {
    const keeper = uniqueName('keeper');
    await createTenant(keeper);
    await waitReady(keeper);
    await createSpace(client, 'data', `tenant-${keeper}`, { size: '5Gi', datacenter: 'it-mil1' });
    await client.request({ method: 'DELETE', path: objectPath(API.Tenant, keeper) });
    const stalled = await eventually('the deletion to stall on the export', async () => {
      const t = await getTenant(keeper);
      return t.status?.conditions?.find((c) => c.type === 'Stalled' && c.reason === 'ExportRequired') ? t : undefined;
    });
    expect(stalled.status?.phase).toBe('Terminating');
    await get(objectPath(K8S.Namespace, `tenant-${keeper}`));
    // Waiving the export lets it go, namespace and all.
    await mergePatch(client, API.Tenant, keeper, undefined, { spec: { contract: { exportOnTermination: false } } });
    await eventually('the tenant and its namespace to be gone', async () => {
      const gone = await getTenant(keeper).then(() => false, () => true);
      const nsGone = await get(objectPath(K8S.Namespace, `tenant-${keeper}`)).then(() => false, () => true);
      return gone && nsGone ? true : undefined;
    }, { timeoutMs: 90_000 });
  });
});

describe('the runtime', () => {
  it('reconciles a tenant created while the operator was stopped', async () => {
    const name = uniqueName('offline');
    await createTenant(name);
    await new Promise((done) => setTimeout(done, 1000));
    expect((await getTenant(name)).status).toBeUndefined();
    const operator = await startOperator();
    await waitReady(name);
    await removeTenant(name);
    await operator.stop();
  });

  it('recovers its watches when kube-apiserver restarts, without restarting', async () => {
    const clusterDir = inject('clusterDir');
    if (!clusterDir) throw new Error('restarting kube-apiserver needs the suite\'s own control plane: unset KUBECONFIG to run this test');
    // A long lease rides out the restart; a short one would (correctly) give up leadership while the
    // API server is away, and the process would end.
    const operator = await startOperator(['--lease-duration', '30s']);
    const before = uniqueName('before');
    await createTenant(before);
    await waitReady(before);

    await restartApiServer(clusterDir);
    const after = uniqueName('after');
    await createTenant(after);
    await waitReady(after, 90_000);
    expect(operator.child.exitCode).toBeNull();
    const restarts = await operator.metric('tenantbackup_watch_restarts_total', { resource: 'tenants.tenantbackup.io' });
    expect(restarts).toBeGreaterThan(0);
    // Recovered objects are reconciled again: a change made after the restart converges.
    await mergePatch(client, API.Tenant, before, undefined, { spec: { quotas: { storage: '55Gi' } } });
    await eventually('the edit after the restart to converge', async () => {
      const quota = await get<{ spec: { hard: Record<string, string> } }>(objectPath(K8S.ResourceQuota, 'tenant-quota', `tenant-${before}`));
      return quota.spec.hard['requests.storage'] === '55Gi' ? true : undefined;
    });
    await removeTenant(before);
    await removeTenant(after);
    await operator.stop();
  });

  it('lets only the leader reconcile, and the standby takes over when the leader is killed', async () => {
    // A short lease, so that the takeover after a kill is quick to observe.
    const shortLease = ['--lease-duration', '4s'];
    const first = await startOperator(shortLease);
    await first.waitForLog('the first operator to lead', (l) => l.msg === 'became leader');
    const second = await startOperator(shortLease);
    await second.waitForLog('the second operator to campaign', (l) => l.msg === 'waiting to become leader');

    const name = uniqueName('leader');
    await createTenant(name);
    await waitReady(name);
    const reconciles = async (o: OperatorProcess) => o.metric('controller_runtime_reconcile_total', { controller: 'tenant' });
    expect(await first.metric('leader_election_master_status')).toBe(1);
    expect(await second.metric('leader_election_master_status')).toBe(0);
    expect(await reconciles(first)).toBeGreaterThan(0);
    expect(await reconciles(second)).toBe(0);
    // The standby's caches are warm and ready, but its controllers have not started.
    expect((await second.logs()).some((l) => l.msg === 'became leader' || l.msg === 'caches synced; starting workers')).toBe(false);

    await first.stop('SIGKILL');
    const killedAt = Date.now();
    await second.waitForLog('the standby to take over', (l) => l.msg === 'became leader', 30_000);
    // It waited for the lease to expire: the dead leader could not hand it over.
    expect(Date.now() - killedAt).toBeGreaterThan(2000);
    const successor = uniqueName('successor');
    await createTenant(successor);
    await waitReady(successor);
    expect(await reconciles(second)).toBeGreaterThan(0);
    await removeTenant(name);
    await removeTenant(successor);

    // A graceful stop releases the lease at once.
    const third = await startOperator(shortLease);
    await second.stop('SIGTERM');
    const stoppedAt = Date.now();
    await third.waitForLog('the third operator to take over', (l) => l.msg === 'became leader', 30_000);
    expect(Date.now() - stoppedAt).toBeLessThan(4000);
    await third.stop();
  });
});
