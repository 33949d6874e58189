/** Which REST resource an object belongs to, and the URL paths that reach it. */
export interface ResourceRef {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export function apiVersionOf(ref: ResourceRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

function groupPrefix(ref: ResourceRef): string {
  return ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`;
}

/** Collection path: all namespaces when `namespace` is undefined for a namespaced resource. */
export function collectionPath(ref: ResourceRef, namespace?: string): string {
  if (ref.namespaced && namespace !== undefined) return `${groupPrefix(ref)}/namespaces/${encodeURIComponent(namespace)}/${ref.plural}`;
  return `${groupPrefix(ref)}/${ref.plural}`;
}

export function objectPath(ref: ResourceRef, name: string, namespace?: string, subresource?: string): string {
  if (ref.namespaced && namespace === undefined) throw new Error(`${ref.kind} is namespaced: a namespace is required to address ${name}`);
  const base = `${collectionPath(ref, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

export function core(kind: string, plural: string, namespaced: boolean): ResourceRef {
  return { group: '', version: 'v1', kind, plural, namespaced };
}

/** Resources the operator reads or owns, outside its own API group. */
export const K8S = {
  Namespace: core('Namespace', 'namespaces', false),
  Node: core('Node', 'nodes', false),
  Secret: core('Secret', 'secrets', true),
  ConfigMap: core('ConfigMap', 'configmaps', true),
  Service: core('Service', 'services', true),
  ServiceAccount: core('ServiceAccount', 'serviceaccounts', true),
  PersistentVolumeClaim: core('PersistentVolumeClaim', 'persistentvolumeclaims', true),
  Pod: core('Pod', 'pods', true),
  ResourceQuota: core('ResourceQuota', 'resourcequotas', true),
  LimitRange: core('LimitRange', 'limitranges', true),
  Event: { group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  NetworkPolicy: { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
  Role: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  Lease: { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  StorageClass: { group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass', plural: 'storageclasses', namespaced: false },
  PodDisruptionBudget: { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  ValidatingWebhookConfiguration: { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations', namespaced: false },
  CustomResourceDefinition: { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false },
} as const satisfies Record<string, ResourceRef>;
