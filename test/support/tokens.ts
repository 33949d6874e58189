/**
 * A metrics reader on the real API server: a ServiceAccount granted `get` on /metrics, as the chart's
 * metrics-reader ClusterRole grants the provider's scraper, and its token (TokenRequest API).
 */
import { KEY_SERVICE_AUDIENCE } from '../../src/operator/key-service.ts';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { K8S, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { createIfAbsent } from './cluster-objects.ts';
import { serviceAccountToken } from './kube.ts';

export const CLUSTER_ROLE: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false };
export const CLUSTER_ROLE_BINDING: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding', plural: 'clusterrolebindings', namespaced: false };

export async function ensureServiceAccount(client: KubeClient, namespace: string, name: string): Promise<void> {
  await createIfAbsent(client, K8S.ServiceAccount, { metadata: { name, namespace } });
}

export const METRICS_READER_ROLE = 'tbo-test-metrics-reader';

/** A ServiceAccount bound to a ClusterRole that may `get` /metrics, and a token of it. */
export async function metricsReaderToken(client: KubeClient, namespace = 'default', name = 'tbo-test-metrics-reader'): Promise<string> {
  await ensureServiceAccount(client, namespace, name);
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: METRICS_READER_ROLE }, rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }] };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `${METRICS_READER_ROLE}-${namespace}-${name}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: METRICS_READER_ROLE },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  };
  await createIfAbsent(client, CLUSTER_ROLE, role);
  await createIfAbsent(client, CLUSTER_ROLE_BINDING, binding);
  return serviceAccountToken(client, name, namespace, 600);
}

/** A token of a space's gateway ServiceAccount, as its projected volume has it (audience: the key service). */
export function gatewayKeyToken(client: KubeClient, namespace: string, space: string, audiences = [KEY_SERVICE_AUDIENCE]): Promise<string> {
  return serviceAccountToken(client, `${space}-gateway`, namespace, 600, audiences);
}
