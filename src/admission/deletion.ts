/**
 * No destructive delete without an export (S14). Deleting a BackupSpace crypto-shreds it: its keys go,
 * and with them every copy of its data. So a space (or an endpoint, whose repository is on the space)
 * that holds data may only be deleted when
 *  - its tenant's termination has verified every export (or the contract waived the export): the
 *    operator then deletes it as part of the termination; or
 *  - the object carries the waiver annotation, an explicit, per-object decision a person made.
 * A GitOps prune or a stray `kubectl delete` is refused with a message that names both ways out. The
 * webhook refuses the request; the space's finalizer applies the same rule when admission was bypassed.
 */
import type { BackupSpace, Endpoint, Tenant } from '../api/types.ts';
import { humanBytes } from '../controllers/backupspace/report.ts';
import { ALLOWED, deny, RULES, type RuleResult } from './rules.ts';

/** The waiver: `kubectl annotate backupspace main tenantbackup.io/destroy-data-without-export=true`. */
export const DESTROY_WAIVER_ANNOTATION = 'tenantbackup.io/destroy-data-without-export';

const WAIVER_FIELD = `metadata.annotations[${DESTROY_WAIVER_ANNOTATION}]`;

function waived(object: { metadata: { annotations?: Record<string, string> } }): boolean {
  return object.metadata.annotations?.[DESTROY_WAIVER_ANNOTATION] === 'true';
}

/**
 * What shows that a space holds data, or undefined when nothing does. Conservative: any endpoint (its
 * repository may hold backups the gateway has not reported yet), any byte reported, any backup seen.
 */
export function spaceDataEvidence(space: BackupSpace): string | undefined {
  const status = space.status ?? {};
  const evidence = [
    ...((status.usedBytes ?? 0) > 0 ? [`${humanBytes(status.usedBytes ?? 0)} stored`] : []),
    ...((status.endpoints ?? 0) > 0 ? [`${status.endpoints} endpoint(s)`] : []),
    ...(status.lastBackupTime ? [`last backup ${status.lastBackupTime}`] : []),
  ];
  return evidence.length > 0 ? evidence.join(', ') : undefined;
}

export function endpointDataEvidence(endpoint: Endpoint): string | undefined {
  const status = endpoint.status ?? {};
  const evidence = [
    ...((status.bytesStored ?? 0) > 0 ? [`${humanBytes(status.bytesStored ?? 0)} stored`] : []),
    ...(status.lastBackupTime ? [`last backup ${status.lastBackupTime}`] : []),
  ];
  return evidence.length > 0 ? evidence.join(', ') : undefined;
}

const RELEASED_PHASES = new Set(['Shredding', 'Deleting', 'Done']);

/**
 * The tenant's termination has passed its verification (or the contract waived the export): what
 * remains of the tenant may go. A space added after the exports is not released until it is exported.
 */
export function releasedByTermination(tenant: Tenant | undefined, spaceUid?: string): boolean {
  const termination = tenant?.status?.termination;
  if (!termination || !RELEASED_PHASES.has(termination.phase)) return false;
  if (termination.exportWaived) return true;
  if (spaceUid === undefined) return termination.exportVerified === true;
  return Boolean(termination.spaces?.find((s) => s.uid === spaceUid)?.verifiedAt);
}

export function checkSpaceDeletion(space: BackupSpace, tenant: Tenant | undefined): RuleResult {
  const evidence = spaceDataEvidence(space);
  if (!evidence || waived(space) || releasedByTermination(tenant, space.metadata.uid)) return ALLOWED;
  return deny(WAIVER_FIELD, RULES.exportBeforeDelete, `space ${space.metadata.namespace}/${space.metadata.name} holds data (${evidence}); deleting it destroys its keys and with them the data, for good. `
    + `Export it first (a Terminated contract or a deleted tenant exports every space, verifies, then deletes), or waive the export for this space: kubectl annotate backupspace ${space.metadata.name} -n ${space.metadata.namespace} ${DESTROY_WAIVER_ANNOTATION}=true`);
}

export function checkEndpointDeletion(endpoint: Endpoint, tenant: Tenant | undefined): RuleResult {
  const evidence = endpointDataEvidence(endpoint);
  if (!evidence || waived(endpoint) || releasedByTermination(tenant)) return ALLOWED;
  return deny(WAIVER_FIELD, RULES.exportBeforeDelete, `endpoint ${endpoint.metadata.namespace}/${endpoint.metadata.name} holds backups (${evidence}) that would be orphaned and later destroyed with its space. `
    + `Export them first (a Terminated contract or a deleted tenant exports every space), or waive the export for this endpoint: kubectl annotate endpoint ${endpoint.metadata.name} -n ${endpoint.metadata.namespace} ${DESTROY_WAIVER_ANNOTATION}=true`);
}
