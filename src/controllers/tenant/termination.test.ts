import { describe, expect, it } from 'vitest';
import { tenant } from '../../../test/support/objects.ts';
import type { Tenant } from '../../api/types.ts';
import {
  exportIdOf,
  newRecord,
  nextStep,
  phaseAtLeast,
  recordExported,
  recordVerified,
  serviceActive,
  terminationDue,
  type ObservedSpace,
  type TerminationFacts,
  type TerminationPhase,
  type TerminationRecord,
  type TerminationStep,
} from './termination.ts';

const NOW = new Date('2026-12-02T08:00:00Z');
const PVC_TARGET = { persistentVolumeClaim: { namespace: 'provider', claimName: 'exports' } };

function terminated(spec: Partial<NonNullable<Tenant['spec']['contract']>> = {}): Tenant {
  return tenant('acme', { contract: { state: 'Terminated', exportOnTermination: true, exportTarget: PVC_TARGET, ...spec } });
}

const SPACES: ObservedSpace[] = [
  { name: 'main', namespace: 'tenant-acme', uid: 'space-uid-1', datacenter: 'it-mil1', keyId: 'key-1' },
  { name: 'archive', namespace: 'tenant-acme', uid: 'space-uid-2', datacenter: 'it-rom1', keyId: 'key-2' },
];

function facts(overrides: Partial<TerminationFacts> = {}): TerminationFacts {
  return { now: NOW, spaces: SPACES, accessRevoked: true, keyMaterial: [], remaining: [], ...overrides };
}

function at(phase: TerminationPhase, record = newRecord(terminated(), 'ContractTerminated', SPACES, NOW)): TerminationRecord {
  return { ...record, phase };
}

function exportedAll(record: TerminationRecord): TerminationRecord {
  return record.spaces.reduce((r, s) => recordExported(r, s.uid, { location: `/exports/${s.exportId}.tar`, size: 1024, sha256: 'a'.repeat(64), exportedAt: '2026-12-02T08:01:00Z' }), record);
}

function verifiedAll(record: TerminationRecord): TerminationRecord {
  return exportedAll(record).spaces.reduce((r, s) => recordVerified(r, s.uid, '2026-12-02T08:02:00Z'), exportedAll(record));
}

/** Runs the machine as the controller would, performing each step on a simulated world, until done. */
function runToEnd(t: Tenant, start: TerminationRecord, world: { access: boolean; keys: string[]; objects: string[]; spaces: ObservedSpace[] }): { record: TerminationRecord; steps: TerminationStep[] } {
  let record = start;
  const steps: TerminationStep[] = [];
  for (let i = 0; i < 50; i++) {
    const step = nextStep(t, record, facts({ spaces: world.spaces, accessRevoked: world.access, keyMaterial: world.keys, remaining: world.objects }));
    steps.push(step);
    switch (step.kind) {
      case 'suspend': world.access = true; break;
      case 'export': record = recordExported(record, step.space.uid, { location: `/x/${step.space.exportId}.tar`, size: 1, sha256: 'b'.repeat(64), exportedAt: NOW.toISOString() }); break;
      case 'verify': record = recordVerified(record, step.space.uid, NOW.toISOString()); break;
      case 'shred':
        // Nothing may be destroyed before every export is verified, unless waived.
        if (!record.waiver) expect(record.spaces.every((s) => s.verifiedAt)).toBe(true);
        world.keys = [];
        break;
      case 'delete':
        if (!record.waiver) expect(record.spaces.every((s) => s.verifiedAt)).toBe(true);
        world.objects = [];
        world.spaces = [];
        break;
      case 'record': record = step.record; break;
      case 'stalled': return { record, steps };
      case 'done': return { record, steps };
    }
  }
  throw new Error('the machine did not finish in 50 steps');
}

describe('when termination is due', () => {
  it('is not due for an active or suspended contract', () => {
    expect(terminationDue(tenant('acme'), NOW)).toEqual({ due: false });
    expect(terminationDue(tenant('acme', { contract: { state: 'Suspended' } }), NOW)).toEqual({ due: false });
  });

  it('is due at once for a Terminated contract without end date, or with one past', () => {
    expect(terminationDue(terminated(), NOW)).toEqual({ due: true, trigger: 'ContractTerminated' });
    expect(terminationDue(terminated({ endDate: '2026-12-02' }), NOW)).toEqual({ due: true, trigger: 'ContractTerminated' });
    expect(terminationDue(terminated({ endDate: '2025-01-31' }), NOW)).toEqual({ due: true, trigger: 'ContractTerminated' });
  });

  it('is scheduled for 00:00 UTC of a future end date: service runs until then', () => {
    expect(terminationDue(terminated({ endDate: '2026-12-31' }), NOW)).toEqual({ due: false, scheduledAt: new Date('2026-12-31T00:00:00Z') });
  });

  it('is due at once for a deleted tenant, whatever its contract says', () => {
    const deleted = { ...tenant('acme', { contract: { state: 'Active' } }), metadata: { name: 'acme', uid: 'u', deletionTimestamp: NOW } };
    expect(terminationDue(deleted, NOW)).toEqual({ due: true, trigger: 'TenantDeleted' });
  });
});

describe('whether the service runs', () => {
  it('runs for an Active contract and for a Terminated one until its end date; not suspended, ended or deleted', () => {
    expect(serviceActive(tenant('acme'), NOW)).toBe(true);
    expect(serviceActive(tenant('acme', { contract: { state: 'Suspended' } }), NOW)).toBe(false);
    expect(serviceActive(terminated(), NOW)).toBe(false);
    expect(serviceActive(terminated({ endDate: '2026-12-31' }), NOW)).toBe(true);
    expect(serviceActive(terminated({ endDate: '2026-12-02' }), NOW)).toBe(false);
    expect(serviceActive({ ...tenant('acme'), metadata: { name: 'acme', deletionTimestamp: NOW } }, NOW)).toBe(false);
  });
});

describe('the export id', () => {
  it('is the same for the same tenant and space, different for another space or tenant, and a valid export id', () => {
    expect(exportIdOf('t1', 's1')).toBe(exportIdOf('t1', 's1'));
    expect(exportIdOf('t1', 's1')).not.toBe(exportIdOf('t1', 's2'));
    expect(exportIdOf('t1', 's1')).not.toBe(exportIdOf('t2', 's1'));
    expect(exportIdOf('t1', 's1')).toMatch(/^[a-z0-9-]{1,63}$/);
  });

  it('is fixed in the record when termination starts, with the export time', () => {
    const record = newRecord(terminated(), 'ContractTerminated', SPACES, NOW);
    expect(record.spaces.map((s) => s.exportId)).toEqual([exportIdOf('uid-acme', 'space-uid-1'), exportIdOf('uid-acme', 'space-uid-2')]);
    expect(record.exportCreatedAt).toBe('2026-12-02T08:00:00Z');
    expect(record.target).toBe('persistentVolumeClaim provider/exports');
  });
});

describe('each transition', () => {
  it('Suspending: suspends first, then goes on to Exporting once access is revoked', () => {
    expect(nextStep(terminated(), at('Suspending'), facts({ accessRevoked: false }))).toEqual({ kind: 'suspend' });
    const step = nextStep(terminated(), at('Suspending'), facts());
    expect(step).toMatchObject({ kind: 'record', reason: 'TerminationSuspended', record: { phase: 'Exporting' } });
  });

  it('Exporting: exports each space in turn, then goes on to Verifying', () => {
    const record = at('Exporting');
    expect(nextStep(terminated(), record, facts())).toMatchObject({ kind: 'export', space: { uid: 'space-uid-1' } });
    const one = recordExported(record, 'space-uid-1', { location: '/x', size: 1, sha256: 'c'.repeat(64), exportedAt: 't' });
    expect(nextStep(terminated(), one, facts())).toMatchObject({ kind: 'export', space: { uid: 'space-uid-2' } });
    expect(nextStep(terminated(), exportedAll(record), facts())).toMatchObject({ kind: 'record', reason: 'Exported', record: { phase: 'Verifying' } });
  });

  it('Exporting: stalls with ExportRequired, naming both ways out, when there is no export target', () => {
    const noTarget = tenant('acme', { contract: { state: 'Active' } });
    const step = nextStep(noTarget, at('Exporting', newRecord(noTarget, 'TenantDeleted', SPACES, NOW)), facts());
    expect(step).toMatchObject({ kind: 'stalled', reason: 'ExportRequired' });
    expect((step as { message: string }).message).toContain('spec.contract.exportTarget');
    expect((step as { message: string }).message).toContain('exportOnTermination to false');
  });

  it('Exporting: re-suspends if access came back (never exports a space still being written)', () => {
    expect(nextStep(terminated(), at('Exporting'), facts({ accessRevoked: false }))).toEqual({ kind: 'suspend' });
  });

  it('Verifying: verifies each exported space, then goes on to Shredding', () => {
    const record = { ...exportedAll(at('Exporting')), phase: 'Verifying' as const };
    expect(nextStep(terminated(), record, facts())).toMatchObject({ kind: 'verify', space: { uid: 'space-uid-1' } });
    expect(nextStep(terminated(), { ...verifiedAll(record), phase: 'Verifying' }, facts())).toMatchObject({ kind: 'record', reason: 'ExportVerified', record: { phase: 'Shredding' } });
  });

  it('Verifying: a space without an export goes back to Exporting, never on', () => {
    expect(nextStep(terminated(), at('Verifying'), facts())).toMatchObject({ kind: 'record', record: { phase: 'Exporting' } });
  });

  it('Shredding: destroys the key material left, then records the destroyed key ids and goes on to Deleting', () => {
    const record = { ...verifiedAll(at('Exporting')), phase: 'Shredding' as const };
    expect(nextStep(terminated(), record, facts({ keyMaterial: ['Secret/tenant-acme/main-key'] }))).toEqual({ kind: 'shred', objects: ['Secret/tenant-acme/main-key'] });
    const step = nextStep(terminated(), record, facts());
    expect(step).toMatchObject({ kind: 'record', reason: 'CryptoShredded', record: { phase: 'Deleting', destroyed: { keyIds: ['key-1', 'key-2'], at: '2026-12-02T08:00:00Z' } } });
    expect((step as { record: TerminationRecord }).record.spaces.every((s) => s.shreddedAt)).toBe(true);
  });

  it('Shredding: refuses outright when an export is not verified and nothing was waived', () => {
    const step = nextStep(terminated(), { ...exportedAll(at('Exporting')), phase: 'Shredding' }, facts({ keyMaterial: ['Secret/tenant-acme/main-key'] }));
    expect(step).toMatchObject({ kind: 'stalled', reason: 'ExportNotVerified' });
  });

  it('Deleting: deletes what is left, then is Done', () => {
    const record = { ...verifiedAll(at('Exporting')), phase: 'Deleting' as const };
    expect(nextStep(terminated(), record, facts({ remaining: ['Namespace/tenant-acme'] }))).toEqual({ kind: 'delete', objects: ['Namespace/tenant-acme'] });
    expect(nextStep(terminated(), record, facts({ spaces: [] }))).toMatchObject({ kind: 'record', reason: 'TerminationDone', record: { phase: 'Done', completedAt: '2026-12-02T08:00:00Z' } });
  });

  it('Done: stays done', () => {
    expect(nextStep(terminated(), { ...verifiedAll(at('Exporting')), phase: 'Done' }, facts({ spaces: [] }))).toEqual({ kind: 'done' });
  });
});

describe('a run from start to end', () => {
  it('goes through every phase in order and never destroys before verification', () => {
    const world = { access: false, keys: ['Secret/tenant-acme/main-key', 'Secret/tenant-acme/archive-key'], objects: ['Namespace/tenant-acme'], spaces: [...SPACES] };
    const { record, steps } = runToEnd(terminated(), newRecord(terminated(), 'ContractTerminated', SPACES, NOW), world);
    expect(steps.map((s) => s.kind)).toEqual(['suspend', 'record', 'export', 'export', 'record', 'verify', 'verify', 'record', 'shred', 'record', 'delete', 'record', 'done']);
    expect(record.phase).toBe('Done');
    expect(record.spaces.every((s) => s.verifiedAt && s.shreddedAt)).toBe(true);
  });

  it.each(['Suspending', 'Exporting', 'Verifying', 'Shredding', 'Deleting', 'Done'] as const)('resumes from %s with the record as it was written and ends Done, verified first', (phase) => {
    // The record as it is stored when the machine entered this phase.
    const base = newRecord(terminated(), 'ContractTerminated', SPACES, NOW);
    const stored = phaseAtLeast(phase, 'Shredding') ? { ...verifiedAll(base), phase } : phase === 'Verifying' ? { ...exportedAll(base), phase } : { ...base, phase };
    const world = { access: phaseAtLeast(phase, 'Exporting'), keys: phaseAtLeast(phase, 'Deleting') ? [] : ['Secret/tenant-acme/main-key'], objects: phase === 'Done' ? [] : ['Namespace/tenant-acme'], spaces: phase === 'Done' ? [] : [...SPACES] };
    const { record, steps } = runToEnd(terminated(), stored, world);
    expect(record.phase).toBe('Done');
    expect(steps.at(-1)).toEqual({ kind: 'done' });
    expect(record.spaces.every((s) => s.verifiedAt)).toBe(true);
  });
});

describe('the waiver', () => {
  it('skips the export only when the contract says exportOnTermination: false, and the record says so', () => {
    const waived = terminated({ exportOnTermination: false, exportTarget: undefined });
    const world = { access: true, keys: ['Secret/tenant-acme/main-key'], objects: ['Namespace/tenant-acme'], spaces: [...SPACES] };
    const { record, steps } = runToEnd(waived, newRecord(waived, 'TenantDeleted', SPACES, NOW), world);
    expect(steps[0]).toMatchObject({ kind: 'record', reason: 'ExportWaived' });
    expect(steps.some((s) => s.kind === 'export' || s.kind === 'verify')).toBe(false);
    expect(record.waiver).toEqual({ field: 'spec.contract.exportOnTermination: false', at: '2026-12-02T08:00:00Z' });
    expect(record.phase).toBe('Done');
  });

  it('can be withdrawn before anything is destroyed, but stays in the record once shredding began', () => {
    const waivedRecord = { ...at('Exporting'), waiver: { field: 'x', at: 't' } };
    expect(nextStep(terminated(), waivedRecord, facts())).toMatchObject({ kind: 'record', reason: 'ExportWaiverWithdrawn' });
    const shredding = { ...waivedRecord, phase: 'Shredding' as const };
    expect(nextStep(terminated(), shredding, facts({ keyMaterial: ['k'] }))).toEqual({ kind: 'shred', objects: ['k'] });
  });
});

describe('spaces that change during termination', () => {
  it('adds a space the record does not know, and sends the machine back to Exporting for it', () => {
    const record = { ...verifiedAll(at('Exporting')), phase: 'Shredding' as const };
    const late: ObservedSpace = { name: 'late', namespace: 'tenant-acme', uid: 'space-uid-3', datacenter: 'it-mil1' };
    const step = nextStep(terminated(), record, facts({ spaces: [...SPACES, late] }));
    expect(step).toMatchObject({ kind: 'record', reason: 'TerminationSpaceAdded', record: { phase: 'Exporting' } });
    expect((step as { record: TerminationRecord }).record.spaces.map((s) => s.name)).toEqual(['main', 'archive', 'late']);
  });

  it('marks a space deleted before its export (a waived deletion) as needing none', () => {
    const step = nextStep(terminated(), at('Exporting'), facts({ spaces: [SPACES[0]!] }));
    expect(step).toMatchObject({ kind: 'record', reason: 'TerminationSpaceGone' });
    const record = (step as { record: TerminationRecord }).record;
    expect(record.spaces.find((s) => s.uid === 'space-uid-2')?.removedBeforeExport).toBe('2026-12-02T08:00:00Z');
    expect(nextStep(terminated(), record, facts({ spaces: [SPACES[0]!] }))).toMatchObject({ kind: 'export', space: { uid: 'space-uid-1' } });
  });
});
