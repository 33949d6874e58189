import { describe, expect, it } from 'vitest';
import { tenant } from '../../../test/support/objects.ts';
import { newRecord } from './termination.ts';
import { terminationHealth, terminationStatus } from './termination-status.ts';
import { tenantStatus } from './status.ts';

const NOW = new Date('2026-12-02T08:00:00Z');
const acme = tenant('acme', { contract: { state: 'Terminated', exportTarget: { persistentVolumeClaim: { namespace: 'provider', claimName: 'exports' } } } }, '0123456789abcdef');
const record = newRecord(acme, 'ContractTerminated', [{ name: 'main', namespace: 'tenant-acme', uid: 's1', datacenter: 'it-mil1', keyId: 'k1' }], NOW);

describe('a scheduled termination', () => {
  it('is a TerminationScheduled condition naming the time, gone once it is not scheduled', () => {
    const scheduled = tenantStatus(acme, { namespaceReady: true, terminationScheduledAt: new Date('2026-12-31T00:00:00Z') }, NOW);
    expect(scheduled.conditions?.find((c) => c.type === 'TerminationScheduled')).toMatchObject({ status: 'True', reason: 'EndDate', message: expect.stringContaining('service runs until 2026-12-31T00:00:00.000Z') });
    expect(tenantStatus({ ...acme, status: scheduled }, { namespaceReady: true }, NOW).conditions?.find((c) => c.type === 'TerminationScheduled')).toBeUndefined();
  });
});

describe('status.termination', () => {
  it('mirrors the record: phase, per-space export id, and whether the export was verified or waived', () => {
    const status = terminationStatus(record, 'termination-acme-01234567', 'exporting');
    expect(status).toMatchObject({ phase: 'Suspending', startedAt: '2026-12-02T08:00:00Z', exportVerified: false, record: 'termination-acme-01234567', spaces: [{ name: 'main', uid: 's1', exportId: record.spaces[0]?.exportId, keyId: 'k1' }] });
    expect(status.exportWaived).toBeUndefined();
    const verified = { ...record, spaces: record.spaces.map((s) => ({ ...s, verifiedAt: 't' })) };
    expect(terminationStatus(verified, 'r', '').exportVerified).toBe(true);
    const waived = terminationStatus({ ...record, waiver: { field: 'f', at: 't' } }, 'r', '');
    expect(waived).toMatchObject({ exportWaived: true, exportVerified: false });
  });

  it('says the step in the tenant\'s conditions: stalled with the reason, progressing per step, ready when done', () => {
    expect(terminationHealth(record, { kind: 'stalled', reason: 'ExportRequired', message: 'm' })).toEqual({ state: 'stalled', reason: 'ExportRequired', message: 'm' });
    expect(terminationHealth(record, { kind: 'suspend' })).toMatchObject({ state: 'progressing', reason: 'TerminationSuspending' });
    expect(terminationHealth(record, { kind: 'done' })).toMatchObject({ state: 'ready', reason: 'Terminated' });
    expect(terminationHealth(record, { kind: 'record', record: { ...record, phase: 'Deleting' }, reason: 'TerminationDeleting', message: 'm' })).toMatchObject({ state: 'progressing', reason: 'TerminationDeleting' });
  });

  it('is Terminated in the very status that first shows phase Done (a reader waiting for Done never sees Ready=False)', () => {
    const done = { ...record, phase: 'Done' as const };
    expect(terminationHealth(record, { kind: 'record', record: done, reason: 'TerminationDone', message: 'gone' })).toMatchObject({ state: 'ready', reason: 'Terminated' });
  });
});
