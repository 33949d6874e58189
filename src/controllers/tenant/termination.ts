/**
 * The termination state machine (S14), as pure functions: given the tenant, its termination record
 * (the evidence ConfigMap, which is the memory: status is lost on a restore) and what the reconcile
 * observed, what is the next step. The controller performs the step and writes the record back with
 * a resourceVersion precondition, so a crash between any two steps resumes where it stopped.
 *
 *   Suspending → Exporting → Verifying → Shredding → Deleting → Done
 *
 * The one rule everything here serves: nothing is destroyed before every space's export was verified,
 * unless the contract waived the export (exportOnTermination: false), which the record then says.
 */
import { createHash } from 'node:crypto';
import type { TERMINATION_PHASES } from '../../api/tenant.ts';
import type { Tenant } from '../../api/types.ts';

export type TerminationPhase = typeof TERMINATION_PHASES[number];

const ORDER: readonly TerminationPhase[] = ['Suspending', 'Exporting', 'Verifying', 'Shredding', 'Deleting', 'Done'];

/** True when `phase` is `than` or comes after it. */
export function phaseAtLeast(phase: TerminationPhase | undefined, than: TerminationPhase): boolean {
  return phase !== undefined && ORDER.indexOf(phase) >= ORDER.indexOf(than);
}

/** One space as the record keeps it: what was exported where, verified and destroyed when. */
export interface SpaceRecord {
  name: string;
  namespace: string;
  uid: string;
  datacenter: string;
  exportId: string;
  keyId?: string;
  location?: string;
  size?: number;
  sha256?: string;
  exportedAt?: string;
  verifiedAt?: string;
  shreddedAt?: string;
  /** The space was gone before it was exported (deleted with a waiver, or it held no data). */
  removedBeforeExport?: string;
}

export interface TerminationRecord {
  version: 1;
  tenant: { name: string; uid: string; displayName: string };
  trigger: 'ContractTerminated' | 'TenantDeleted';
  phase: TerminationPhase;
  startedAt: string;
  /** The export's creation time, fixed once: a restarted export writes the same bytes under the same id. */
  exportCreatedAt: string;
  /** Set when the contract waived the export: data is destroyed without one. */
  waiver?: { field: string; at: string };
  /** Where the exports go, without credentials (e.g. `pvc provider/exports`, `s3://bucket/prefix`). */
  target?: string;
  spaces: SpaceRecord[];
  destroyed: { keyIds: string[]; objects: string[]; at?: string };
  completedAt?: string;
}

/** A space as the reconcile found it in the cluster. */
export interface ObservedSpace {
  name: string;
  namespace: string;
  uid: string;
  datacenter: string;
  keyId?: string;
}

export interface TerminationFacts {
  now: Date;
  /** Spaces still in the tenant's namespace. */
  spaces: ObservedSpace[];
  /** Every space's gateway refuses every endpoint and person, and no client traffic is let in. */
  accessRevoked: boolean;
  /** Key material still present: `Secret/<namespace>/<name>` of key, gateway config and volume encryption Secrets. */
  keyMaterial: string[];
  /** Objects of the tenant still present (spaces, endpoints, the namespace), for the Deleting step. */
  remaining: string[];
}

export type TerminationStep =
  | { kind: 'suspend' }
  | { kind: 'export'; space: SpaceRecord }
  | { kind: 'verify'; space: SpaceRecord }
  | { kind: 'shred'; objects: string[] }
  | { kind: 'delete'; objects: string[] }
  /** Write the record as given (a phase change or new spaces), with an Event saying why. */
  | { kind: 'record'; record: TerminationRecord; reason: string; message: string }
  | { kind: 'stalled'; reason: string; message: string }
  /** Everything is gone: release the finalizer of a deleted tenant; a Terminated one stays as the record. */
  | { kind: 'done' };

/** Termination starts at 00:00 UTC of the contract's endDate; before that, service runs. */
export function terminationStartsAt(tenant: Tenant): Date | undefined {
  const endDate = tenant.spec.contract?.endDate;
  return endDate ? new Date(`${endDate}T00:00:00Z`) : undefined;
}

/**
 * Whether the service runs: an Active contract, or a Terminated one whose end date is still ahead
 * (service runs until then); never a suspended contract or a deleted tenant.
 */
export function serviceActive(tenant: Tenant, now: Date): boolean {
  if (tenant.metadata.deletionTimestamp) return false;
  const state = tenant.spec.contract?.state ?? 'Active';
  if (state === 'Active') return true;
  const startsAt = state === 'Terminated' ? terminationStartsAt(tenant) : undefined;
  return startsAt !== undefined && startsAt.getTime() > now.getTime();
}

export type TerminationDue =
  | { due: false }
  | { due: false; scheduledAt: Date }
  | { due: true; trigger: TerminationRecord['trigger'] };

/** Whether the tenant is to be terminated now: deleted (the finalizer holds it), or Terminated and past its end date. */
export function terminationDue(tenant: Tenant, now: Date): TerminationDue {
  if (tenant.metadata.deletionTimestamp) return { due: true, trigger: 'TenantDeleted' };
  if (tenant.spec.contract?.state !== 'Terminated') return { due: false };
  const startsAt = terminationStartsAt(tenant);
  if (startsAt && startsAt.getTime() > now.getTime()) return { due: false, scheduledAt: startsAt };
  return { due: true, trigger: 'ContractTerminated' };
}

/** The contract waived the export: the only way to destroy data without one. */
export function exportWaived(tenant: Tenant): boolean {
  return tenant.spec.contract?.exportOnTermination === false;
}

/**
 * The export id of a space in a termination: the same for the same tenant and space whatever happens
 * (restarts, leader changes), so there is never a second, different export of one space.
 */
export function exportIdOf(tenantUid: string, spaceUid: string): string {
  return `term-${createHash('sha256').update(`tenantbackup.io/termination/${tenantUid}/${spaceUid}`).digest('hex').slice(0, 20)}`;
}

/** A target named without its credentials, for the record and Events. */
export function describeTarget(tenant: Tenant): string | undefined {
  const target = tenant.spec.contract?.exportTarget;
  if (target?.persistentVolumeClaim) return `persistentVolumeClaim ${target.persistentVolumeClaim.namespace}/${target.persistentVolumeClaim.claimName}`;
  if (target?.s3) return `s3://${target.s3.bucket}/${target.s3.prefix ?? ''}${target.s3.endpoint ? ` at ${target.s3.endpoint}` : ''}`;
  return undefined;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function spaceRecord(tenantUid: string, space: ObservedSpace): SpaceRecord {
  return { name: space.name, namespace: space.namespace, uid: space.uid, datacenter: space.datacenter, exportId: exportIdOf(tenantUid, space.uid), ...(space.keyId ? { keyId: space.keyId } : {}) };
}

export function newRecord(tenant: Tenant, trigger: TerminationRecord['trigger'], spaces: ObservedSpace[], now: Date): TerminationRecord {
  const uid = tenant.metadata.uid ?? '';
  const target = describeTarget(tenant);
  return {
    version: 1,
    tenant: { name: tenant.metadata.name ?? '', uid, displayName: tenant.spec.displayName },
    trigger,
    phase: 'Suspending',
    startedAt: iso(now),
    exportCreatedAt: iso(now),
    ...(target ? { target } : {}),
    spaces: spaces.map((s) => spaceRecord(uid, s)),
    destroyed: { keyIds: [], objects: [] },
  };
}

function withPhase(record: TerminationRecord, phase: TerminationPhase, now: Date): TerminationRecord {
  return { ...record, phase, ...(phase === 'Done' ? { completedAt: iso(now) } : {}) };
}

/**
 * The record's waiver follows the contract until the first destruction: the waiver can still be
 * given (or withdrawn) while nothing is destroyed; after that it is history and stays as written.
 */
function reconcileWaiver(record: TerminationRecord, tenant: Tenant, now: Date): TerminationRecord {
  if (phaseAtLeast(record.phase, 'Shredding')) return record;
  const waived = exportWaived(tenant);
  if (waived && !record.waiver) return { ...record, waiver: { field: 'spec.contract.exportOnTermination: false', at: iso(now) } };
  if (!waived && record.waiver) {
    const { waiver: _dropped, ...rest } = record;
    return rest;
  }
  return record;
}

/** Space is dealt with for the export: verified, or gone before it was exported. */
function exportSettled(space: SpaceRecord): boolean {
  return Boolean(space.verifiedAt) || Boolean(space.removedBeforeExport);
}

/**
 * The next step. Pure: the same record and facts give the same step; the controller performs it and
 * calls again with what it then observes.
 */
export function nextStep(tenant: Tenant, record: TerminationRecord, facts: TerminationFacts): TerminationStep {
  const { now } = facts;
  // The waiver, and spaces the record does not know yet (e.g. created just before the namespace was
  // closed): a new space is exported like the others, even if others are already past export.
  let updated = reconcileWaiver(record, tenant, now);
  const known = new Set(updated.spaces.map((s) => s.uid));
  const unknown = facts.spaces.filter((s) => !known.has(s.uid));
  if (unknown.length > 0) {
    updated = { ...updated, spaces: [...updated.spaces, ...unknown.map((s) => spaceRecord(updated.tenant.uid, s))] };
    if (!updated.waiver && phaseAtLeast(updated.phase, 'Verifying') && updated.phase !== 'Done') updated = withPhase(updated, 'Exporting', now);
    return { kind: 'record', record: updated, reason: 'TerminationSpaceAdded', message: `space(s) ${unknown.map((s) => `${s.namespace}/${s.name}`).join(', ')} added to the termination; they are exported before anything of theirs is destroyed` };
  }
  // A space gone before its export (its deletion was waived, or it held no data) needs none.
  const present = new Set(facts.spaces.map((s) => s.uid));
  const vanished = updated.spaces.filter((s) => !present.has(s.uid) && !s.sha256 && !s.removedBeforeExport && !phaseAtLeast(updated.phase, 'Shredding'));
  if (vanished.length > 0) {
    updated = { ...updated, spaces: updated.spaces.map((s) => vanished.includes(s) ? { ...s, removedBeforeExport: iso(now) } : s) };
    return { kind: 'record', record: updated, reason: 'TerminationSpaceGone', message: `space(s) ${vanished.map((s) => s.name).join(', ')} were deleted before their export (waived or empty); nothing to export for them` };
  }
  if (updated !== record) {
    return { kind: 'record', record: updated, reason: updated.waiver ? 'ExportWaived' : 'ExportWaiverWithdrawn', message: updated.waiver ? 'the contract waives the export (spec.contract.exportOnTermination: false): data will be destroyed without one' : 'the export waiver was withdrawn: every space is exported first' };
  }

  switch (record.phase) {
    case 'Suspending':
      if (!facts.accessRevoked) return { kind: 'suspend' };
      return record.waiver
        ? { kind: 'record', record: withPhase(record, 'Shredding', now), reason: 'TerminationSuspended', message: 'access suspended; the export is waived by the contract, shredding keys' }
        : { kind: 'record', record: withPhase(record, 'Exporting', now), reason: 'TerminationSuspended', message: 'access suspended: no endpoint or person can write; exporting every space' };
    case 'Exporting': {
      if (record.waiver) return { kind: 'record', record: withPhase(record, 'Shredding', now), reason: 'ExportWaived', message: 'the export is waived by the contract; shredding keys' };
      if (!facts.accessRevoked) return { kind: 'suspend' };
      if (!tenant.spec.contract?.exportTarget) {
        return { kind: 'stalled', reason: 'ExportRequired', message: `the tenant has ${record.spaces.length} space(s) holding data; they are kept until they are exported. Set spec.contract.exportTarget (a persistentVolumeClaim or an s3 bucket), or set spec.contract.exportOnTermination to false to waive the export` };
      }
      const pending = record.spaces.find((s) => !s.sha256 && !s.removedBeforeExport);
      if (pending) return { kind: 'export', space: pending };
      return { kind: 'record', record: withPhase(record, 'Verifying', now), reason: 'Exported', message: `every space is exported to ${record.target ?? 'the export target'}; verifying by re-reading` };
    }
    case 'Verifying': {
      const pending = record.spaces.find((s) => !exportSettled(s));
      if (pending) return pending.sha256 ? { kind: 'verify', space: pending } : { kind: 'record', record: withPhase(record, 'Exporting', now), reason: 'ExportMissing', message: `space ${pending.name} has no export yet` };
      return { kind: 'record', record: withPhase(record, 'Shredding', now), reason: 'ExportVerified', message: 'every export was re-read from the target and matches its digests; shredding keys' };
    }
    case 'Shredding': {
      const unsafe = record.waiver ? undefined : record.spaces.find((s) => !exportSettled(s));
      // Unreachable by the transitions above; kept so that no edit of them can ever shred unexported data.
      if (unsafe) return { kind: 'stalled', reason: 'ExportNotVerified', message: `refusing to shred: the export of space ${unsafe.name} is not verified` };
      if (facts.keyMaterial.length > 0) return { kind: 'shred', objects: facts.keyMaterial };
      const shredded = record.spaces.map((s) => (s.shreddedAt ? s : { ...s, shreddedAt: iso(now) }));
      const keyIds = [...new Set([...record.destroyed.keyIds, ...record.spaces.flatMap((s) => (s.keyId ? [s.keyId] : []))])];
      return {
        kind: 'record',
        record: { ...withPhase(record, 'Deleting', now), spaces: shredded, destroyed: { ...record.destroyed, keyIds, at: record.destroyed.at ?? iso(now) } },
        reason: 'CryptoShredded',
        message: `destroyed every copy of the key material (data keys ${keyIds.join(', ') || 'none'}): the data can no longer be decrypted; deleting spaces, Secrets and the namespace`,
      };
    }
    case 'Deleting':
      if (facts.remaining.length > 0) return { kind: 'delete', objects: facts.remaining };
      return { kind: 'record', record: withPhase(record, 'Done', now), reason: 'TerminationDone', message: 'every space, Secret, volume and the namespace of the tenant are gone; the termination record stays as evidence' };
    case 'Done':
      return { kind: 'done' };
  }
}

/** Pure updates of the record with a step's outcome. */
export function recordExported(record: TerminationRecord, uid: string, result: { location: string; size: number; sha256: string; exportedAt: string }): TerminationRecord {
  return { ...record, spaces: record.spaces.map((s) => (s.uid === uid ? { ...s, ...result } : s)) };
}

export function recordVerified(record: TerminationRecord, uid: string, verifiedAt: string): TerminationRecord {
  return { ...record, spaces: record.spaces.map((s) => (s.uid === uid ? { ...s, verifiedAt } : s)) };
}

export function recordDestroyed(record: TerminationRecord, objects: string[]): TerminationRecord {
  const all = [...new Set([...record.destroyed.objects, ...objects])];
  return { ...record, destroyed: { ...record.destroyed, objects: all } };
}
