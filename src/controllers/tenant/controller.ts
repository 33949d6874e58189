/**
 * Tenant controller: keeps each Tenant's namespace, quota, limits, network isolation and RBAC as
 * desired.ts describes them, recreates what is deleted by hand, prunes what is no longer desired,
 * and reports usage against quota. A Terminated contract (from its end date) and a deleted Tenant
 * (held by a finalizer) go through the termination state machine instead (termination-run.ts): no
 * customer data is destroyed before a verified export, unless the contract waived it (S14).
 */
import type { V1Namespace, V1ResourceQuota } from '@kubernetes/client-node';
import { API } from '../../api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../../api/types.ts';
import { addFinalizer, applyStatus, deleteObject, getObject } from '../../runtime/apply.ts';
import { Controller, type ReconcileResult } from '../../runtime/controller.ts';
import type { Informer } from '../../runtime/informer.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../../runtime/object.ts';
import { ensureApplied, type ControllerContext } from '../context.ts';
import { ACCESS_LABEL, MANAGED_BY, MANAGED_BY_LABEL, SPACE_LABEL, TENANT_LABEL, tenantNamespaceName } from '../labels.ts';
import { tenantNamedFor, tenantNamespaces } from '../tenants.ts';
import { desiredNamespace, desiredNamespacedObjects, QUOTA_NAME } from './desired.ts';
import { storageOverQuota } from '../../admission/rules.ts';
import { findCondition } from '../../runtime/conditions.ts';
import { QUOTA_EXCEEDED, quotaEnforced, tenantStatus, type TenantObservation } from './status.ts';
import { terminationDue } from './termination.ts';
import { runTermination, TENANT_FINALIZER, type TerminationOptions } from './termination-run.ts';

export { TENANT_FINALIZER };

/** Longest wait for a scheduled termination: timers beyond 2^31 ms misfire, and an hour costs nothing. */
const MAX_SCHEDULE_WAIT_MS = 3_600_000;

/** Kinds the controller creates in a tenant namespace; a stale one (a removed user's binding) is pruned. */
const CHILD_KINDS: readonly ResourceRef[] = [K8S.ResourceQuota, K8S.LimitRange, K8S.NetworkPolicy, K8S.Role, K8S.RoleBinding];

/**
 * What this controller made: ours, a tenant's, not one of the access controller's RBAC objects and not
 * a space's (its peers NetworkPolicy is the BackupSpace controller's: pruning it here made the two fight).
 */
const OWNED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${TENANT_LABEL},!${ACCESS_LABEL},!${SPACE_LABEL}`;

interface TenantCaches {
  tenants: Informer<Tenant>;
  namespaces: Informer<V1Namespace & KubeObject>;
  children: Map<ResourceRef, Informer<KubeObject>>;
  spaces: Informer<BackupSpace>;
  endpoints: Informer<Endpoint>;
}

function tenantOf(object: KubeObject): string[] {
  const name = object.metadata.labels?.[TENANT_LABEL];
  return name ? [name] : [];
}

export function createTenantController(ctx: ControllerContext, termination: TerminationOptions, concurrency = 2): Controller {
  const caches: TenantCaches = {
    tenants: ctx.informers.for<Tenant>(API.Tenant),
    namespaces: tenantNamespaces(ctx.informers),
    children: new Map(CHILD_KINDS.map((ref) => [ref, ctx.informers.for<KubeObject>(ref, { labelSelector: OWNED_SELECTOR })])),
    spaces: ctx.informers.for<BackupSpace>(API.BackupSpace),
    endpoints: ctx.informers.for<Endpoint>(API.Endpoint),
  };
  const controller = new Controller({
    name: 'tenant',
    concurrency,
    logger: ctx.logger,
    metrics: ctx.metrics,
    failureStatus: { client: ctx.client, ref: API.Tenant },
    reconcile: (key) => reconcileTenant(ctx, caches, termination, key),
  });
  controller.watch(caches.tenants, (event) => [objectKey(event.object)]);
  controller.watch(caches.namespaces, (event) => tenantOf(event.object));
  for (const informer of caches.children.values()) controller.watch(informer, (event) => tenantOf(event.object));
  // A terminating tenant waits for its spaces; each space change re-checks it.
  controller.watch(caches.spaces, (event) => {
    const tenant = tenantNamedFor(caches.tenants, event.object.metadata.namespace);
    return tenant ? [objectKey(tenant)] : [];
  });
  return controller;
}

async function reconcileTenant(ctx: ControllerContext, caches: TenantCaches, termination: TerminationOptions, key: string): Promise<ReconcileResult | undefined> {
  const tenant = caches.tenants.get(key);
  if (!tenant) return;
  const log = ctx.logger.child({ tenant: key });
  const due = terminationDue(tenant, ctx.now());
  if (due.due) {
    const sources = { client: ctx.client, spaces: caches.spaces, endpoints: caches.endpoints, policies: caches.children.get(K8S.NetworkPolicy) };
    return runTermination(ctx, sources, termination, tenant, due.trigger);
  }

  // Held before anything is built; the rest of the reconcile does not depend on the object version.
  await addFinalizer(ctx.client, API.Tenant, tenant, TENANT_FINALIZER);

  const namespaceName = tenantNamespaceName(tenant);
  let namespace = caches.namespaces.get(namespaceName);
  if (!namespace) {
    // Not ours (our cache only holds labelled namespaces): someone else's namespace of the same name?
    const existing = await getObject<V1Namespace & KubeObject>(ctx.client, K8S.Namespace, namespaceName);
    if (existing && existing.metadata.labels?.[TENANT_LABEL] !== tenant.metadata.name) {
      await report(ctx, tenant, {
        namespaceReady: false,
        problem: { state: 'stalled', reason: 'NamespaceConflict', message: `namespace ${namespaceName} already exists and does not belong to this tenant; the operator will not take it over` },
      });
      await ctx.recorder.warning(tenant, 'NamespaceConflict', `namespace ${namespaceName} exists and belongs to someone else`);
      return;
    }
    namespace = existing;
  }
  if (namespace?.metadata.deletionTimestamp) {
    await report(ctx, tenant, { namespaceReady: false, problem: { state: 'progressing', reason: 'NamespaceTerminating', message: `namespace ${namespaceName} is being deleted; it will be recreated when it is gone` } });
    return { requeueAfterMs: 2000 };
  }

  const created = !namespace;
  await ensureApplied(ctx, K8S.Namespace, desiredNamespace(tenant), namespace);
  if (created) await ctx.recorder.normal(tenant, 'NamespaceCreated', `created namespace ${namespaceName}`);

  const desired = desiredNamespacedObjects(tenant, ctx.settings);
  const recreated: string[] = [];
  for (const object of desired) {
    const ref = CHILD_KINDS.find((r) => r.kind === object.kind);
    if (!ref) throw new Error(`no child kind for ${object.kind}`);
    const cached = caches.children.get(ref)?.get(`${namespaceName}/${object.metadata.name}`);
    if (await ensureApplied(ctx, ref, object, cached) && !cached && !created) recreated.push(`${object.kind}/${object.metadata.name}`);
  }
  if (recreated.length > 0) {
    log.info({ objects: recreated }, 'restored objects that were missing');
  }
  await pruneStale(ctx, caches, tenant, desired);

  const quota = caches.children.get(K8S.ResourceQuota)?.get(`${namespaceName}/${QUOTA_NAME}`) as V1ResourceQuota | undefined;
  const before = tenant.status?.phase;
  // A quota lowered below what the spaces hold (admission bypassed): said, not silent.
  const overQuota = storageOverQuota(tenant, caches.spaces.inNamespace(namespaceName));
  const status = await report(ctx, tenant, { namespaceReady: true, quota, ...(overQuota ? { overQuota } : {}), ...('scheduledAt' in due ? { terminationScheduledAt: due.scheduledAt } : {}) });
  const exceeded = findCondition(status.conditions, QUOTA_EXCEEDED);
  const exceededBefore = findCondition(tenant.status?.conditions, QUOTA_EXCEEDED);
  if (exceeded && exceeded.message !== exceededBefore?.message) await ctx.recorder.warning(tenant, QUOTA_EXCEEDED, exceeded.message);
  if (!exceeded && exceededBefore) await ctx.recorder.normal(tenant, 'QuotaRestored', `the tenant's spaces fit its storage quota of ${String(tenant.spec.quotas.storage)} again`);
  if (before && before !== status.phase && (status.phase === 'Suspended' || (before === 'Suspended' && status.phase === 'Active'))) {
    await ctx.recorder.normal(tenant, status.phase === 'Suspended' ? 'Suspended' : 'Resumed', status.phase === 'Suspended' ? 'contract suspended: access to every space is refused, data is kept' : 'contract active again: access restored');
  }
  // The quota controller counts asynchronously; look again soon until it has.
  if (!quotaEnforced(quota)) return { requeueAfterMs: 1000 };
  // A Terminated contract with a future end date: service runs until then.
  if ('scheduledAt' in due) return { requeueAfterMs: Math.min(MAX_SCHEDULE_WAIT_MS, Math.max(1, due.scheduledAt.getTime() - ctx.now().getTime())) };
}

/** Deletes what the tenant owns but no longer wants: bindings of removed users, policies of a suspended contract. */
async function pruneStale(ctx: ControllerContext, caches: TenantCaches, tenant: Tenant, desired: { kind?: string; metadata: { name?: string } }[]): Promise<void> {
  const namespace = tenantNamespaceName(tenant);
  for (const [ref, informer] of caches.children) {
    const wanted = new Set(desired.filter((o) => o.kind === ref.kind).map((o) => o.metadata.name));
    const stale = informer.inNamespace(namespace).filter((o) => o.metadata.labels?.[TENANT_LABEL] === tenant.metadata.name && !wanted.has(o.metadata.name));
    for (const object of stale) {
      await deleteObject(ctx.client, ref, object.metadata.name ?? '', namespace);
      ctx.logger.info({ tenant: tenant.metadata.name, kind: ref.kind, name: object.metadata.name }, 'pruned object no longer desired');
    }
  }
}

async function report(ctx: ControllerContext, tenant: Tenant, observation: TenantObservation) {
  const status = tenantStatus(tenant, observation, ctx.now());
  await applyStatus(ctx.client, API.Tenant, tenant, status);
  return status;
}
