/**
 * What the steps of a space's reconcile share: the caches they read, the facts gathered once at the
 * start, and how a step stops the sequence. A step either produces what the next ones need, or halts
 * with a condition to report (`blocked`) or quietly (`wait`: nothing to say, look again later).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../api/types.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { ResourceRef } from '../../runtime/kube/resource-ref.ts';
import type { KubeObject } from '../../runtime/object.ts';
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
}

export function gatherFacts(caches: SpaceCaches, space: BackupSpace, key: string): SpaceFacts {
  const namespace = space.metadata.namespace ?? '';
  return {
    space,
    key,
    namespace,
    names: spaceObjectNames(space.metadata.name ?? ''),
    tenant: tenantOfOwnNamespace(caches.tenants, caches.namespaces, namespace),
    datacenter: caches.datacenters.get(space.spec.datacenter),
    endpoints: caches.endpoints.list((e) => e.metadata.namespace === namespace && e.spec.spaceRef.name === space.metadata.name && (e.spec.spaceRef.namespace ?? namespace) === namespace),
    siblings: caches.spaces.list((s) => s.metadata.namespace === namespace && s.metadata.uid !== space.metadata.uid),
  };
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
