/**
 * Audit evidence (S17) on the real control plane with the kwok topology and the real scheduler: a
 * tenant with a ready space gets a PolicyReport whose controls pass; then controls are broken on
 * purpose and the matching results turn to fail. The operator repairs what it owns (a deleted
 * NetworkPolicy is restored within a second, a new user is enrolled at once), so the breaks are made
 * while it is stopped, and the audit is run by the same function its controller runs (auditTenant);
 * restarted, the operator repairs them and its own audit reports pass again.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Tenant } from '../../src/api/types.ts';
import { AUDIT_REPORT_NAME, POLICY_REPORT, type PolicyReport } from '../../src/audit/policy-report.ts';
import { auditTenant, FACTS_ANNOTATION } from '../../src/audit/publish.ts';
import { DEFAULT_DENY_POLICY, type TenantSettings } from '../../src/controllers/tenant/desired.ts';
import { applyObject, type ApplyObject } from '../../src/runtime/apply.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { createReadyTenant, createSpace, ensureDatacenters, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { run } from '../support/run.ts';

const CRD: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false };
const crdFile = join(import.meta.dirname, '../../charts/tenant-backup-operator/files/policyreports.wgpolicyk8s.io.yaml');
const entryPoint = join(import.meta.dirname, '../../src/cli/main.ts');
const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-audit');
// The operator's defaults (operator/command.ts): the required NetworkPolicies depend on them.
const settings: TenantSettings = { operatorNamespace, adminNamespaces: ['kube-system', 'monitoring'], clusterCidrs: ['10.0.0.0/8', 'fd00::/8'], adminCidrs: [], userPrefix: '' };
const operatorArgs = ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--audit-interval', '2s'];
const tenantName = uniqueName('audited');
let operator: OperatorProcess | undefined;
let namespace: string;

const report = () => readObject<PolicyReport>(client, POLICY_REPORT, AUDIT_REPORT_NAME, namespace);
const resultsOf = (r: PolicyReport | undefined) => Object.fromEntries((r?.results ?? []).map((x) => [x.rule ?? '', x]));
const tenant = async () => {
  const t = await readObject<Tenant>(client, API.Tenant, tenantName);
  if (!t) throw new Error('tenant gone');
  return t;
};

beforeAll(async () => {
  await installCrds(client);
  await applyObject(client, CRD, parse(await readFile(crdFile, 'utf8')) as ApplyObject);
  await eventually('the PolicyReport CRD to be served', async () => {
    const crd = await readObject<{ status?: { conditions?: { type: string; status: string }[] } }>(client, CRD, 'policyreports.wgpolicyk8s.io');
    return crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
  });
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, operatorArgs);
});

afterAll(async () => {
  if (!operator) operator = await OperatorProcess.start(kubeconfigPath, operatorArgs);
  await removeTenant(client, tenantName);
  await operator.stop();
});

describe('the audit PolicyReport of a tenant', () => {
  it('passes every control of a tenant with a ready space, from the cluster\'s facts', async () => {
    ({ namespace } = await createReadyTenant(client, tenantName, {
      residency: { countries: ['IT'] },
      security: { twoFactor: 'Required', keyCustody: 'provider' },
      users: [{ name: 'anna', email: 'anna@example.com', role: 'viewer' }],
    }));
    await createSpace(client, 'main', namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 2 });
    await waitForCondition<BackupSpace>(client, API.BackupSpace, 'main', namespace, 'Ready', 'True', undefined, 90_000);
    let last: PolicyReport | undefined;
    const published = await eventually('a passing PolicyReport', async () => {
      last = await report();
      return last?.summary?.fail === 0 && resultsOf(last)['residency']?.result === 'pass' ? last : undefined;
    }, { timeoutMs: 60_000 }).catch((error: unknown) => {
      throw new Error(`${String(error)}; last results: ${JSON.stringify(last?.results?.map((r) => [r.rule, r.result, r.message]))}`);
    });
    const results = resultsOf(published);
    expect(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.result]))).toEqual({
      residency: 'pass', encryption: 'pass', tls: 'pass', 'two-factor': 'pass', segregation: 'pass', quotas: 'pass', agents: 'skip', termination: 'skip',
    });
    expect(results['residency']).toMatchObject({ policy: 'tenant-backup', severity: 'critical', category: 'Residency (S7)', scored: true });
    expect(results['residency']?.message).toMatch(/main-gateway-\S+ on it-mil1-node-\d \(IT\)/);
    expect(results['residency']?.timestamp?.seconds).toBeGreaterThan(0);
    expect(published?.scope).toMatchObject({ kind: 'Tenant', name: tenantName });
    const facts = JSON.parse(published?.metadata.annotations?.[FACTS_ANNOTATION] ?? '{}') as { gatewayPods?: { nodeName?: string }[] };
    expect(facts.gatewayPods).toHaveLength(2);

    // No churn: audits of unchanged facts leave the stored report as it is.
    const before = published?.metadata.resourceVersion;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect((await report())?.metadata.resourceVersion).toBe(before);
  });

  it('the bundle command exports it dated, with the facts and a manifest sha256sum checks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-bundle-'));
    const out = join(dir, 'evidence.tar.gz');
    const done = await run(process.execPath, [entryPoint, 'audit-bundle', '--kubeconfig', kubeconfigPath, '--tenant', tenantName, '--out', out]);
    expect(done.code, done.stderr).toBe(0);
    const listed = execFileSync('tar', ['-tzf', out], { encoding: 'utf8' }).trim().split('\n');
    const name = listed[0]?.split('/')[0] ?? '';
    expect(name).toMatch(new RegExp(`^audit-${tenantName}-\\d{8}T\\d{6}Z$`));
    expect(listed.map((p) => p.slice(name.length + 1)).sort()).toEqual(['README.txt', 'facts.json', 'manifest-sha256.txt', 'manifest.json', 'policyreport.json']);
    execFileSync('tar', ['-xzf', out, '-C', dir]);
    expect(execFileSync('sha256sum', ['-c', 'manifest-sha256.txt'], { cwd: join(dir, name), encoding: 'utf8' })).toContain('facts.json: OK');
    const bundled = JSON.parse(await readFile(join(dir, name, 'policyreport.json'), 'utf8')) as PolicyReport;
    expect(bundled.summary?.fail).toBe(0);
  });

  it('turns to fail for a gateway pod on a foreign node, a deleted NetworkPolicy and a user not enrolled', async () => {
    await operator?.stop();
    operator = undefined;
    // A pod with the gateway's labels bound by nodeName to a French node, past the scheduler and the
    // Deployment's node affinity: what the audit must catch whoever placed it.
    const intruder = 'main-gateway-foreign';
    await client.request({
      method: 'POST',
      path: collectionPath(K8S.Pod, namespace),
      body: {
        metadata: { name: intruder, labels: { 'app.kubernetes.io/name': 'tenant-backup-gateway', 'app.kubernetes.io/instance': 'main', 'app.kubernetes.io/component': 'gateway' } },
        spec: {
          nodeName: 'fr-par1-node-1',
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name: 'gateway', image: 'registry.invalid/tenant-backup-operator:test', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        },
      },
    });
    const outcome = await auditTenant(client, await tenant(), settings, new Date());
    expect(outcome.written).toBe(true);
    expect(resultsOf(outcome.report)['residency']).toMatchObject({ result: 'fail', message: expect.stringContaining(`${intruder} on fr-par1-node-1 (FR)`) });
    expect(resultsOf(outcome.report)['residency']?.resources).toContainEqual({ apiVersion: 'v1', kind: 'Node', name: 'fr-par1-node-1' });

    await client.request({ method: 'DELETE', path: objectPath(K8S.NetworkPolicy, DEFAULT_DENY_POLICY, namespace) });
    await mergePatch(client, API.Tenant, tenantName, undefined, { spec: { users: [{ name: 'anna', email: 'anna@example.com', role: 'viewer' }, { name: 'bruno', email: 'bruno@example.com', role: 'viewer' }] } });
    await auditTenant(client, await tenant(), settings, new Date());
    const results = resultsOf(await report());
    expect(results['segregation']).toMatchObject({ result: 'fail', message: expect.stringContaining(`missing: ${DEFAULT_DENY_POLICY}`) });
    expect(results['two-factor']).toMatchObject({ result: 'fail', message: 'not enrolled: bruno' });
    expect(results['quotas']?.result).toBe('pass');
    expect((await report())?.summary?.fail).toBe(3);

    // Repaired: the intruder removed by hand; the restarted operator restores the policy and enrols bruno.
    await client.request({ method: 'DELETE', path: objectPath(K8S.Pod, intruder, namespace), query: { gracePeriodSeconds: 0 } });
    operator = await OperatorProcess.start(kubeconfigPath, operatorArgs);
    const repaired = await eventually('the operator\'s audit to pass again', async () => {
      const r = await report();
      return r?.summary?.fail === 0 ? r : undefined;
    }, { timeoutMs: 60_000 });
    expect(resultsOf(repaired)['two-factor']?.message).toContain('anna, bruno');
  });
});
