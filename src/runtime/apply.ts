/**
 * Writes to the API server the way a well-behaved controller does:
 * - owned objects through server-side apply with the operator's own field manager, so fields other
 *   actors own (an HPA's replicas, an admin's annotation) are left alone;
 * - status through server-side apply on the status subresource, and only when it differs from what
 *   is stored (Cluster API's patch helper: compare, then patch the difference or nothing);
 * - finalizers with an optimistic-concurrency merge patch.
 */
import { isDeepStrictEqual } from 'node:util';
import { CONTENT_TYPE, type KubeClient } from './kube/client.ts';
import { isConflict, isNotFound } from './kube/errors.ts';
import { apiVersionOf, collectionPath, objectPath, type ResourceRef } from './kube/resource-ref.ts';
import type { KubeObject } from './object.ts';

export const FIELD_MANAGER = 'tenant-backup-operator';

export interface ApplyObject extends KubeObject {
  [field: string]: unknown;
}

export async function applyObject<T extends KubeObject>(client: KubeClient, ref: ResourceRef, object: ApplyObject, fieldManager = FIELD_MANAGER): Promise<T> {
  const name = object.metadata.name;
  if (!name) throw new Error(`cannot apply a ${ref.kind} without a name`);
  return client.request<T>({
    method: 'PATCH',
    path: objectPath(ref, name, object.metadata.namespace),
    query: { fieldManager, force: true },
    body: { ...object, apiVersion: apiVersionOf(ref), kind: ref.kind },
    contentType: CONTENT_TYPE.apply,
  });
}

/** Status fields are compared after a JSON round trip, so `undefined` members do not count as changes. */
function normalized(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/**
 * Applies `status` to the object's status subresource when it differs from `current.status`.
 * Returns whether a write happened.
 */
export async function applyStatus<S>(client: KubeClient, ref: ResourceRef, current: KubeObject & { status?: S }, status: S, fieldManager = FIELD_MANAGER): Promise<boolean> {
  if (isDeepStrictEqual(normalized(current.status), normalized(status))) return false;
  const { name, namespace } = current.metadata;
  if (!name) throw new Error(`cannot patch the status of a ${ref.kind} without a name`);
  try {
    await client.request({
      method: 'PATCH',
      path: objectPath(ref, name, namespace, 'status'),
      query: { fieldManager, force: true },
      body: { apiVersion: apiVersionOf(ref), kind: ref.kind, metadata: { name, ...(namespace ? { namespace } : {}) }, status },
      contentType: CONTENT_TYPE.apply,
    });
  } catch (error) {
    // Deleted meanwhile: nothing left to report on.
    if (isNotFound(error)) return false;
    throw error;
  }
  return true;
}

/** Sets the finalizer list, failing with 409 if the object changed since it was read. */
async function patchFinalizers(client: KubeClient, ref: ResourceRef, object: KubeObject, finalizers: string[]): Promise<void> {
  const { name, namespace, resourceVersion } = object.metadata;
  if (!name) throw new Error(`cannot patch a ${ref.kind} without a name`);
  await client.request({
    method: 'PATCH',
    path: objectPath(ref, name, namespace),
    body: { metadata: { finalizers, resourceVersion } },
    contentType: CONTENT_TYPE.merge,
  });
}

export async function addFinalizer(client: KubeClient, ref: ResourceRef, object: KubeObject, finalizer: string): Promise<boolean> {
  const finalizers = object.metadata.finalizers ?? [];
  if (finalizers.includes(finalizer)) return false;
  await patchFinalizers(client, ref, object, [...finalizers, finalizer]);
  return true;
}

export async function removeFinalizer(client: KubeClient, ref: ResourceRef, object: KubeObject, finalizer: string): Promise<boolean> {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) return false;
  try {
    await patchFinalizers(client, ref, object, finalizers.filter((f) => f !== finalizer));
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  return true;
}

export async function deleteObject(client: KubeClient, ref: ResourceRef, name: string, namespace?: string, propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background'): Promise<boolean> {
  try {
    await client.request({ method: 'DELETE', path: objectPath(ref, name, namespace), body: { propagationPolicy } });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

export async function getObject<T>(client: KubeClient, ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
  try {
    return await client.request<T>({ method: 'GET', path: objectPath(ref, name, namespace) });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Creates an object that must never be overwritten once made (issued credentials, a key); undefined
 * when one of that name exists already (made meanwhile, e.g. by a reconcile the cache has not shown).
 */
export async function createObjectOnce<T>(client: KubeClient, ref: ResourceRef, namespace: string | undefined, object: unknown): Promise<T | undefined> {
  try {
    return await client.request<T>({ method: 'POST', path: collectionPath(ref, namespace), body: object });
  } catch (error) {
    if (isConflict(error)) return undefined;
    throw error;
  }
}
