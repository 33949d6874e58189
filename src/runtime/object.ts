/** The shape every Kubernetes object shares, and small pure helpers over it. */
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the work queue key. */
export function objectKey(object: { metadata: Pick<V1ObjectMeta, 'name' | 'namespace'> }): string {
  const { name = '', namespace } = object.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

/** The owner reference a controller puts on what it creates, so garbage collection follows the owner. */
export function controllerReference(owner: KubeObject): V1OwnerReference {
  if (!owner.apiVersion || !owner.kind || !owner.metadata.name || !owner.metadata.uid) {
    throw new Error('an owner needs apiVersion, kind, name and uid');
  }
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function hasFinalizer(object: KubeObject, finalizer: string): boolean {
  return object.metadata.finalizers?.includes(finalizer) ?? false;
}

/** Kubernetes' MicroTime (RFC 3339 with microseconds), as Leases and events.k8s.io Events want it. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}
