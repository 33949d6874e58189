/**
 * What the steps of a space's reconcile share: the caches they read, the facts gathered once at the
 * start, and how a step stops the sequence. A step either produces what the next ones need, or halts
 * with a condition to report (`blocked`) or quietly (`wait`: nothing to say, look again later).
 */
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../api/types.ts';
import type { Informer } from '../../runtime/informer.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { endpointsOfSpace } from '../cache-indexes.ts';
import { spaceObjectNames } from '../labels.ts';
import { tenantOfOwnNamespace, type TenantNamespace } from '../tenants.ts';
import type { Secret } from './keys.ts';

export interface SpaceCaches {
  spaces: Informer<BackupSpace>;
  tenants: Informer<Tenant>;
  namespaces: Informer<TenantNamespace>;
  datacenters: Informer<Datacenter>;
  endpoints: Informer<Endpoint>;
  secrets: Informer<Secret>;
  owned: Map<ResourceRef, Informer<KubeObject>>;
  pods: Informer<V1Pod & KubeObject>;
}

/** A rule the space breaks or a step it waits on, reported as the space's Stalled/Reconciling condition. */
export interface Blocked {
  state: 'stalled' | 'progressing';
  reason: string;
  message: string;
}

/** Why the sequence stopped before its end. */
export type Halt =
  /** Report `blocked` in status (and as a Warning Event when `warn`). */
  | { kind: 'blocked'; blocked: Blocked; warn?: boolean; requeueAfterMs?: number }
  /** Write nothing: the next event or the requeue picks the space up again. */
  | { kind: 'wait'; requeueAfterMs?: number };

export type StepResult<T> = { ok: true; value: T } | { ok: false; halt: Halt };

export const proceed = <T>(value: T): StepResult<T> => ({ ok: true, value });
export const stall = (reason: string, message: string, extra: { warn?: boolean; requeueAfterMs?: number } = {}): { ok: false; halt: Halt } => ({ ok: false, halt: { kind: 'blocked', blocked: { state: 'stalled', reason, message }, ...extra } });
export const wait = (requeueAfterMs?: number): { ok: false; halt: Halt } => ({ ok: false, halt: { kind: 'wait', ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) } });

/** What the reconcile reads from the caches once, before any step runs. */
export interface SpaceFacts {
  space: BackupSpace;
  key: string;
  namespace: string;
  names: ReturnType<typeof spaceObjectNames>;
  tenant: Tenant | undefined;
  datacenter: Datacenter | undefined;
  /** This space's endpoints. */
  endpoints: Endpoint[];
  /** The other spaces of the namespace. */
  siblings: BackupSpace[];
  /** The storage the space's volume claim requests, once it has one: the size it already holds. */
  heldStorage: string | undefined;
}

export function gatherFacts(caches: SpaceCaches, space: BackupSpace, key: string): SpaceFacts {
  const namespace = space.metadata.namespace ?? '';
  const names = spaceObjectNames(space.metadata.name ?? '');
  return {
    space,
    key,
    namespace,
    names,
    tenant: tenantOfOwnNamespace(caches.tenants, caches.namespaces, namespace),
    datacenter: caches.datacenters.get(space.spec.datacenter),
    // Only endpoints of the space's own namespace: a spaceRef into another namespace is refused.
    endpoints: endpointsOfSpace(caches.endpoints, namespace, space.metadata.name ?? '').filter((e) => e.metadata.namespace === namespace),
    siblings: caches.spaces.inNamespace(namespace).filter((s) => s.metadata.uid !== space.metadata.uid),
    heldStorage: heldStorage(caches, space, names.volume),
  };
}

/**
 * What the space's own volume claim requests: the storage the space holds whatever its status says (a
 * restore loses status). A claim of an earlier space of the same name, not yet gone, holds nothing for this one.
 */
function heldStorage(caches: SpaceCaches, space: BackupSpace, volume: string): string | undefined {
  const claim = caches.owned.get(K8S.PersistentVolumeClaim)?.get(`${space.metadata.namespace ?? ''}/${volume}`) as V1PersistentVolumeClaim | undefined;
  if (!claim?.metadata?.ownerReferences?.some((owner) => owner.uid === space.metadata.uid)) return undefined;
  const requested: unknown = claim.spec?.resources?.requests?.storage;
  return typeof requested === 'string' ? requested : typeof requested === 'number' ? String(requested) : undefined;
}

/** Facts once the rules passed: the tenant and the datacenter exist. */
export interface ProvisionFacts extends SpaceFacts {
  tenant: Tenant;
  datacenter: Datacenter;
  tenantName: string;
}

export function secretOf(caches: SpaceCaches, namespace: string, name: string): Secret | undefined {
  return caches.secrets.get(`${namespace}/${name}`);
}
