/**
 * The cross-object rules a space must keep (residency, custody, quota, replicas), judged before
 * anything of it is built: a space that breaks one gets nothing, and an existing one keeps what it has.
 */
import { ALLOWED, checkSpaceCustody, checkSpaceFitsQuota, checkSpaceReplicas, checkSpaceResidency, firstDenied, ruleReason } from '../../admission/rules.ts';
import { phaseAtLeast } from '../tenant/termination.ts';
import { proceed, stall, wait, type ProvisionFacts, type SpaceFacts, type StepResult } from './step.ts';

/** The first broken rule, as the webhook would have reported it; otherwise the facts with tenant and datacenter. */
export function judgeRules(facts: SpaceFacts): StepResult<ProvisionFacts> {
  const { space, tenant, datacenter, siblings, heldStorage } = facts;
  const broken = firstDenied(
    checkSpaceResidency(space, tenant, datacenter),
    tenant ? checkSpaceCustody(space, tenant) : ALLOWED,
    tenant ? checkSpaceFitsQuota(space, siblings, tenant, heldStorage) : ALLOWED,
    datacenter ? checkSpaceReplicas(space, datacenter) : ALLOWED,
  );
  if (!broken.allowed) return stall(ruleReason(broken.rule), broken.message, { warn: true });
  if (!tenant || !datacenter) return wait();
  // The tenant's termination is destroying the keys: nothing of the space is built again.
  if (phaseAtLeast(tenant.status?.termination?.phase, 'Shredding')) return wait();
  return proceed({ ...facts, tenant, datacenter, tenantName: tenant.metadata.name ?? '' });
}
