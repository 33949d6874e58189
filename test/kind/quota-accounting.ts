/**
 * Waits until the control plane accounts, at once, a new ResourceQuota that counts our kinds.
 *
 * Every tenant's quota counts BackupSpaces and Endpoints (count/<kind>.tenantbackup.io), and a Tenant
 * is Ready only once the API server has accounted it. kube-controller-manager learns new CRDs for quota
 * at its next discovery pass; a quota created before then fails to account and is retried with growing
 * back-off, so on a cluster made a minute ago the first tenants wait minutes in QuotaPending (seen on a
 * cold run: three tenants Ready together 3 min after they were made). The suite starts its tests once a
 * fresh probe quota is accounted within seconds, as on any cluster that has been up for a while.
 */
import type { V1ResourceQuota } from '@kubernetes/client-node';
import { API } from '../../src/api/refs.ts';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { createIfAbsent, createObject, readObject } from '../support/cluster-objects.ts';
import { eventually } from '../support/kube.ts';

const PROBE_NAMESPACE = 'kind-quota-probe';
const COUNTED = [API.BackupSpace, API.Endpoint].map((ref) => `count/${ref.plural}.${ref.group}`);

/** Seconds it took; throws, naming what is missing, when no probe is accounted within `timeoutMs`. */
export async function waitForQuotaOfOurKinds(client: KubeClient, timeoutMs = 6 * 60_000, perProbeMs = 15_000): Promise<number> {
  const started = Date.now();
  await createIfAbsent(client, K8S.Namespace, { metadata: { name: PROBE_NAMESPACE } });
  let used: Record<string, string> | undefined;
  for (let attempt = 1; Date.now() - started < timeoutMs; attempt += 1) {
    // A new quota each time: one that failed before the CRDs were discovered waits out its back-off.
    const name = `probe-${attempt}`;
    const probe: V1ResourceQuota & { metadata: { name: string } } = { metadata: { name, namespace: PROBE_NAMESPACE }, spec: { hard: Object.fromEntries(COUNTED.map((key) => [key, '1'])) } };
    await createObject(client, K8S.ResourceQuota, probe);
    const accounted = await eventually(`ResourceQuota ${PROBE_NAMESPACE}/${name} to count our kinds`, async () => {
      used = (await readObject<V1ResourceQuota>(client, K8S.ResourceQuota, name, PROBE_NAMESPACE))?.status?.used;
      return COUNTED.every((key) => used?.[key] !== undefined) ? true : undefined;
    }, { timeoutMs: perProbeMs, intervalMs: 1000 }).catch(() => false);
    if (accounted) {
      await client.request({ method: 'DELETE', path: objectPath(K8S.Namespace, PROBE_NAMESPACE) });
      return Math.round((Date.now() - started) / 1000);
    }
    await client.request({ method: 'DELETE', path: objectPath(K8S.ResourceQuota, name, PROBE_NAMESPACE) });
  }
  throw new Error(`kube-controller-manager did not account ${COUNTED.join(' and ')} in a new ResourceQuota within ${timeoutMs / 1000}s (last status.used: ${JSON.stringify(used ?? {})}); tenants would stay QuotaPending`);
}
