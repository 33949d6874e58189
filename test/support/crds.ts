import { allCustomResourceDefinitions } from '../../src/api/crd.ts';
import { CONTENT_TYPE, type KubeClient } from '../../src/runtime/kube/client.ts';
import { isApiError } from '../../src/runtime/kube/errors.ts';
import { collectionPath, objectPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { eventually } from './kube.ts';

interface CrdStatus { status?: { conditions?: { type: string; status: string }[] } }

const QUOTA_PROBE_NAMESPACE = 'tenantbackup-quota-probe';
const COUNTED = ['count/backupspaces.tenantbackup.io', 'count/endpoints.tenantbackup.io'];

/**
 * Waits until kube-controller-manager's quota controller counts the new kinds. It discovers new
 * resources every 30 seconds, and a quota created before that is only recounted at its next full
 * resync (5 minutes), so tenants created right after installing the CRDs would wait that long. In a
 * real cluster the CRDs are installed long before the first tenant.
 */
async function waitForQuotaDiscovery(client: KubeClient): Promise<void> {
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: QUOTA_PROBE_NAMESPACE } } })
    .catch((error: unknown) => { if (!isApiError(error, 409)) throw error; });
  await eventually('the quota controller to count the new kinds', async () => {
    const name = `probe-${Date.now()}`;
    await client.request({ method: 'POST', path: collectionPath(K8S.ResourceQuota, QUOTA_PROBE_NAMESPACE), body: { metadata: { name }, spec: { hard: Object.fromEntries(COUNTED.map((k) => [k, '1'])) } } });
    try {
      return await eventually('the probe quota to be counted', async () => {
        const quota = await client.request<{ status?: { used?: Record<string, string> } }>({ method: 'GET', path: objectPath(K8S.ResourceQuota, name, QUOTA_PROBE_NAMESPACE) });
        return COUNTED.every((k) => quota.status?.used?.[k] !== undefined) ? true : undefined;
      }, { timeoutMs: 5000 });
    } finally {
      await client.request({ method: 'DELETE', path: objectPath(K8S.ResourceQuota, name, QUOTA_PROBE_NAMESPACE) });
    }
  }, { timeoutMs: 90_000, intervalMs: 1000 });
}

/** Installs (or updates) the project's CRDs, generated from src/api, and waits until they are served. */
export async function installCrds(client: KubeClient): Promise<void> {
  for (const crd of allCustomResourceDefinitions()) {
    const name = crd.metadata?.name ?? '';
    await client.request({
      method: 'PATCH',
      path: objectPath(K8S.CustomResourceDefinition, name),
      query: { fieldManager: 'tenant-backup-tests', force: true },
      body: crd,
      contentType: CONTENT_TYPE.apply,
    });
    await eventually(`CRD ${name} to be established`, async () => {
      const current = await client.request<CrdStatus>({ method: 'GET', path: objectPath(K8S.CustomResourceDefinition, name) });
      return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
  await waitForQuotaDiscovery(client);
}
