/**
 * status.termination and the tenant's health while it terminates, as pure functions of the record
 * and the step: status mirrors the record (which is the truth; a restored status is rebuilt from it).
 */
import type { SpaceTerminationStatus, TerminationStatus } from '../../api/tenant.ts';
import type { Health } from '../../runtime/conditions.ts';
import type { SpaceRecord, TerminationRecord, TerminationStep } from './termination.ts';

const MESSAGE_MAX = 1024;

function spaceStatus(space: SpaceRecord): SpaceTerminationStatus {
  const { name, uid, exportId, location, size, sha256, exportedAt, verifiedAt, keyId, shreddedAt } = space;
  return JSON.parse(JSON.stringify({ name, uid, exportId, location, size, sha256, exportedAt, verifiedAt, keyId, shreddedAt })) as SpaceTerminationStatus;
}

export function terminationStatus(record: TerminationRecord, recordName: string, message: string): TerminationStatus {
  const exported = record.spaces.filter((s) => !s.removedBeforeExport);
  return {
    phase: record.phase,
    startedAt: record.startedAt,
    ...(record.completedAt ? { completedAt: record.completedAt } : {}),
    exportVerified: !record.waiver && exported.every((s) => Boolean(s.verifiedAt)),
    ...(record.waiver ? { exportWaived: true } : {}),
    record: recordName,
    message: message.slice(0, MESSAGE_MAX),
    spaces: record.spaces.map(spaceStatus),
  };
}

function terminated(record: TerminationRecord): Health {
  return { state: 'ready', reason: 'Terminated', message: `terminated: ${record.waiver ? 'the export was waived by the contract' : `${record.spaces.filter((s) => s.verifiedAt).length} space(s) exported and verified`}, every key destroyed and every object deleted; the record is kept` };
}

/** What the tenant's conditions say about the step it is on. */
export function terminationHealth(record: TerminationRecord, step: TerminationStep): Health {
  switch (step.kind) {
    case 'stalled':
      return { state: 'stalled', reason: step.reason, message: step.message };
    case 'done':
      return terminated(record);
    case 'suspend':
      return { state: 'progressing', reason: 'TerminationSuspending', message: 'suspending access: every endpoint and person is refused before the export' };
    case 'export':
      return { state: 'progressing', reason: 'TerminationExporting', message: `exporting space ${step.space.name} (export ${step.space.exportId}) to ${record.target ?? 'the export target'}` };
    case 'verify':
      return { state: 'progressing', reason: 'TerminationVerifying', message: `verifying the export of space ${step.space.name} by re-reading ${step.space.location ?? 'it'}` };
    case 'shred':
      return { state: 'progressing', reason: 'TerminationShredding', message: `destroying key material: ${step.objects.length} object(s) left` };
    case 'delete':
      return { state: 'progressing', reason: 'TerminationDeleting', message: `deleting the tenant's objects: ${step.objects.slice(0, 5).join(', ')}${step.objects.length > 5 ? ` and ${step.objects.length - 5} more` : ''}` };
    case 'record':
      // The status that first shows phase Done must already say Terminated: a reader waiting for
      // Done (kubectl wait, a pipeline) must never see it beside Ready=False.
      if (step.record.phase === 'Done') return terminated(step.record);
      return { state: 'progressing', reason: `Termination${step.record.phase}`, message: step.message };
  }
}
