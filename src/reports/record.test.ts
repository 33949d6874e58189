import { describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS, mayTakeOver, parseRecord, recordName, RETRY_AFTER_MS, STALE_CLAIM_MS, toConfigMap, type ReportRecord } from './record.ts';

const record = (over: Partial<ReportRecord> = {}): ReportRecord => ({
  state: 'sending', periodId: '2026-12-03', periodKind: 'Daily', periodEnd: '2026-12-04T00:00:00.000Z',
  claimedAt: '2026-12-04T00:01:00.000Z', claimedBy: 'op-1', attempts: 1, recipients: ['a@x.example', 'b@x.example'],
  subject: 'Report', text: 'text', html: '<p>html</p>', baseline: { endpoints: { desk: { snapshots: 2, bytes: { full: 1, incremental: 2, metadata: 3 }, quotaRefusals: 0 } }, spaces: {} },
  ...over,
});
const claimed = Date.parse('2026-12-04T00:01:00.000Z');

describe('report record', () => {
  it('is named after the period', () => {
    expect(recordName({ id: '2026-w49' })).toBe('backup-report-2026-w49');
  });

  it('round-trips through its ConfigMap, labelled for its tenant and period kind', () => {
    const r = record({ state: 'sent', sentAt: '2026-12-04T00:01:02.000Z', messageId: '<m@x>' });
    const cm = toConfigMap(recordName({ id: r.periodId }), 'tenant-x', 'x', r, '42');
    expect(cm.metadata).toMatchObject({ name: 'backup-report-2026-12-03', namespace: 'tenant-x', resourceVersion: '42', labels: { 'tenantbackup.io/tenant': 'x', 'tenantbackup.io/report-period': 'Daily' } });
    expect(cm.data?.['report.txt']).toBe('text');
    expect(parseRecord(cm)).toEqual(r);
  });

  it('is never taken over once sent', () => {
    expect(mayTakeOver(record({ state: 'sent' }), claimed + 100 * STALE_CLAIM_MS)).toBe(false);
  });

  it('takes over a claim whose process died only once it is stale, and a failure after its retry delay', () => {
    expect(mayTakeOver(record(), claimed + STALE_CLAIM_MS - 1)).toBe(false);
    expect(mayTakeOver(record(), claimed + STALE_CLAIM_MS)).toBe(true);
    expect(mayTakeOver(record({ state: 'failed' }), claimed + RETRY_AFTER_MS - 1)).toBe(false);
    expect(mayTakeOver(record({ state: 'failed' }), claimed + RETRY_AFTER_MS)).toBe(true);
  });

  it('gives up after the last attempt', () => {
    expect(mayTakeOver(record({ attempts: MAX_ATTEMPTS }), claimed + 100 * STALE_CLAIM_MS)).toBe(false);
    expect(mayTakeOver(record({ state: 'failed', attempts: MAX_ATTEMPTS }), claimed + 100 * RETRY_AFTER_MS)).toBe(false);
  });

  it('reads an unreadable claim time as stale rather than holding the period forever', () => {
    expect(mayTakeOver(record({ claimedAt: '' }), claimed)).toBe(true);
  });
});
