/** The Tenant's status as a pure function of what the reconcile observed. */
import type { V1ResourceQuota } from '@kubernetes/client-node';
import type { Tenant } from '../../api/types.ts';
import { describeStorageUse, type StorageOverQuota } from '../../admission/rules.ts';
import { formatQuantity } from '../../admission/quantity.ts';
import type { TenantStatus, TerminationStatus } from '../../api/tenant.ts';
import { healthConditions, removeCondition, setCondition, type Health } from '../../runtime/conditions.ts';
import { tenantNamespaceName } from '../labels.ts';
import { contractState, QUOTA_KEYS } from './desired.ts';

export interface TenantObservation {
  /** The namespace exists and is active. */
  namespaceReady: boolean;
  quota?: V1ResourceQuota;
  /** A problem that stops the tenant from being Ready, if any. */
  problem?: Exclude<Health, { state: 'ready' }>;
  terminating?: boolean;
  /** A Terminated contract whose end date is ahead: when termination begins. */
  terminationScheduledAt?: Date;
  /** While terminating: the termination's own health (it may be ready: done) and progress. */
  health?: Health;
  termination?: TerminationStatus;
  /** The tenant's spaces hold more than its storage quota (it was lowered while admission was bypassed). */
  overQuota?: StorageOverQuota;
}

export const QUOTA_EXCEEDED = 'QuotaExceeded';

/**
 * What a tenant over its storage quota is told (condition QuotaExceeded, and a Warning Event): how
 * much its spaces hold and which, the quota, what still works and how to get out of it.
 */
export function quotaExceededMessage(tenant: Tenant, over: StorageOverQuota): string {
  return `spec.quotas.storage: quota: tenant ${tenant.metadata.name ?? ''}'s ${describeStorageUse(over)}, more than its storage quota of ${String(tenant.spec.quotas.storage)}. `
    + `Existing spaces keep running at their size; no space may grow and no new space is admitted until the quota is at least ${formatQuantity(over.used)} or spaces are deleted`;
}

function usage(quota: V1ResourceQuota | undefined, key: string): { used?: string; hard?: string } | undefined {
  const used = quota?.status?.used?.[key];
  const hard = quota?.status?.hard?.[key] ?? quota?.spec?.hard?.[key];
  if (used === undefined && hard === undefined) return undefined;
  return { ...(used !== undefined ? { used } : {}), ...(hard !== undefined ? { hard } : {}) };
}

/**
 * The API server enforces a quota's limits only once the quota controller has counted usage against
 * them (status.hard mirrors spec.hard and status.used has every resource); before that, admission
 * refuses with "status unknown for quota".
 */
export function quotaEnforced(quota: V1ResourceQuota | undefined): boolean {
  const wanted = quota?.spec?.hard ?? {};
  const hard = quota?.status?.hard;
  const used = quota?.status?.used;
  if (!hard || !used) return false;
  return Object.entries(wanted).every(([key, value]) => hard[key] === value && used[key] !== undefined);
}

export function tenantHealth(tenant: Tenant, observation: TenantObservation): Health {
  if (observation.health) return observation.health;
  if (observation.problem) return observation.problem;
  if (!observation.namespaceReady) return { state: 'progressing', reason: 'CreatingNamespace', message: `creating namespace ${tenantNamespaceName(tenant)}` };
  if (!quotaEnforced(observation.quota)) return { state: 'progressing', reason: 'QuotaPending', message: 'waiting for the API server to account the tenant\'s quota' };
  const state = contractState(tenant);
  if (state === 'Suspended') return { state: 'ready', reason: 'Suspended', message: 'contract suspended: all access is refused and data is kept' };
  return { state: 'ready', reason: 'Reconciled', message: `namespace ${tenantNamespaceName(tenant)} is isolated, quota-bound and ready` };
}

export function tenantStatus(tenant: Tenant, observation: TenantObservation, now: Date): TenantStatus {
  const generation = tenant.metadata.generation;
  const health = tenantHealth(tenant, observation);
  let conditions = healthConditions(tenant.status?.conditions, health, generation, now);
  const state = contractState(tenant);
  conditions = setCondition(conditions, {
    type: 'ContractActive',
    status: state === 'Active' ? 'True' : 'False',
    reason: state,
    message: state === 'Active' ? 'the contract is active' : state === 'Suspended' ? 'access is refused while the contract is suspended' : 'the contract is terminated',
  }, generation, now);
  conditions = observation.overQuota
    ? setCondition(conditions, { type: QUOTA_EXCEEDED, status: 'True', reason: 'StorageOverQuota', message: quotaExceededMessage(tenant, observation.overQuota) }, generation, now)
    : removeCondition(conditions, QUOTA_EXCEEDED);
  conditions = observation.terminationScheduledAt
    ? setCondition(conditions, { type: 'TerminationScheduled', status: 'True', reason: 'EndDate', message: `service runs until ${observation.terminationScheduledAt.toISOString()}; then every space is exported, verified and destroyed` }, generation, now)
    : removeCondition(conditions, 'TerminationScheduled');
  const termination = observation.termination ?? tenant.status?.termination;
  const phase: TenantStatus['phase'] = observation.terminating ? 'Terminating'
    : termination?.phase === 'Done' ? 'Terminated'
    : !observation.namespaceReady ? 'Pending'
    : state === 'Suspended' ? 'Suspended'
    : state === 'Terminated' ? 'Terminated'
    : 'Active';
  const storage = usage(observation.quota, QUOTA_KEYS.storage);
  const spaces = usage(observation.quota, QUOTA_KEYS.spaces);
  const endpoints = usage(observation.quota, QUOTA_KEYS.endpoints);
  return {
    ...(termination ? { termination } : {}),
    observedGeneration: generation,
    conditions,
    namespace: tenantNamespaceName(tenant),
    phase,
    ...(storage || spaces || endpoints ? {
      usage: { ...(storage ? { storage } : {}), ...(spaces ? { spaces } : {}), ...(endpoints ? { endpoints } : {}) },
    } : {}),
  };
}
