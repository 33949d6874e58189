/**
 * Dashboards and alerts on the real components: the chart renders its dashboard ConfigMap and
 * PrometheusRule with the real helm (and its values schema refuses a wrong threshold), and a real
 * operator process serves the fleet gauges the rules query, from its caches of the real API server.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Datacenter, Tenant } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { createObject, createTenant, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { helm as runHelm } from '../support/helm.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { datacenter } from '../support/objects.ts';
import { OperatorProcess } from '../support/operator.ts';

const chartDir = join(import.meta.dirname, '../../charts/tenant-backup-operator');
const helm = async (args: string[]): Promise<string> => (await runHelm(args)).stdout;

interface Rendered { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; data?: Record<string, string>; spec?: { groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[] } }

async function render(values: string[]): Promise<Rendered[]> {
  const text = await helm(['template', 'tenant-backup-operator', chartDir, '--namespace', 'tenant-backup-system', ...values.flatMap((v) => ['--set', v])]);
  return parseAllDocuments(text).map((d) => d.toJS() as unknown).filter((o): o is Rendered => typeof o === 'object' && o !== null && 'kind' in o);
}

describe('chart: dashboard and alerts rendered by helm', () => {
  it('are absent by default', async () => {
    const kinds = (await render([])).map((o) => o.kind);
    expect(kinds).not.toContain('PrometheusRule');
    expect(kinds).not.toContain('ConfigMap');
  });

  it('render a dashboard ConfigMap for the sidecar and a PrometheusRule with the thresholds given', async () => {
    const objects = await render(['dashboard.enabled=true', 'dashboard.namespace=monitoring', 'prometheusRule.enabled=true', 'prometheusRule.labels.release=kube-prometheus-stack', 'prometheusRule.thresholds.backupOverdueHours=50']);
    const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
    expect(configMap.metadata).toMatchObject({ name: 'tenant-backup-operator-dashboard', namespace: 'monitoring', labels: { grafana_dashboard: '1' } });
    expect(configMap.data!['tenant-backup-operator.json']).toBe((await readFile(join(chartDir, 'dashboards/tenant-backup-operator.json'), 'utf8')).trimEnd());
    const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
    expect(rule.metadata).toMatchObject({ namespace: 'tenant-backup-system', labels: { release: 'kube-prometheus-stack' } });
    const rules = rule.spec!.groups.flatMap((g) => g.rules);
    expect(rules).toHaveLength(11);
    expect(rules.find((r) => r.alert === 'TenantBackupBackupOverdue')!.expr).toContain('> 50 * 3600');
    // Prometheus's own templates reach it untouched; no Helm template is left over.
    expect(rules.find((r) => r.alert === 'TenantBackupObjectStalled')!.annotations.summary).toBe('{{ $labels.kind }} {{ $labels.object_namespace }}/{{ $labels.name }} is stalled ({{ $labels.reason }})');
    expect(JSON.stringify(rules)).not.toMatch(/\{\{-?\s*[.a-z]/);
    await helm(['lint', '--strict', chartDir, '--set', 'dashboard.enabled=true', '--set', 'prometheusRule.enabled=true']);
  });

  it('refuses a threshold out of range, naming it', async () => {
    await expect(render(['prometheusRule.enabled=true', 'prometheusRule.thresholds.spaceUsedRatio=90'])).rejects.toThrow(/spaceUsedRatio/);
  });
});

describe('fleet metrics of a running operator', () => {
  const { kubeconfigPath } = clients();
  const client = KubeClient.load(kubeconfigPath);
  const namespace = uniqueName('tb-system');
  const tenant = uniqueName('metrics');
  const nowhere = uniqueName('nowhere');
  let operator: OperatorProcess;

  beforeAll(async () => {
    await installCrds(client);
    await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: namespace } } });
    operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', namespace, '--no-leader-elect']);
  });

  afterAll(async () => {
    await operator?.stop('SIGKILL');
    await removeTenant(client, tenant).catch(() => undefined);
    await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, nowhere) }).catch(() => undefined);
  });

  it('counts a ready tenant with its quota, and names a stalled datacenter', async () => {
    await createTenant(client, tenant, { quotas: { storage: '100Gi', spaces: 2, endpoints: 5 } });
    await waitForCondition<Tenant>(client, API.Tenant, tenant, undefined, 'Ready', 'True');
    await createObject(client, API.Datacenter, datacenter(nowhere, 'IT'));
    await waitForCondition<Datacenter>(client, API.Datacenter, nowhere, undefined, 'Stalled', 'True', 'NoMatchingNodes');
    await eventually('the fleet gauges to show both', async () => {
      const quota = await operator.metric('tenantbackup_tenant_storage_quota_bytes', { tenant });
      const stalled = await operator.metric('tenantbackup_object_stalled', { kind: 'Datacenter', name: nowhere, reason: 'NoMatchingNodes' });
      const readyTenants = await operator.metric('tenantbackup_objects', { kind: 'Tenant', state: 'ready' });
      return quota === 100 * 2 ** 30 && stalled === 1 && readyTenants >= 1 ? true : undefined;
    }, { timeoutMs: 30_000 });
  });
});
