import { describe, expect, it } from 'vitest';
import type { Endpoint, Tenant } from '../../api/types.ts';
import { backupFreshness, expectedInterval, freshnessEvent, parseDurationMs } from './freshness.ts';

const created = '2026-12-01T10:00:00Z';
const endpoint = (spec: Partial<Endpoint['spec']> = {}): Endpoint => ({
  apiVersion: 'tenantbackup.io/v1alpha1',
  kind: 'Endpoint',
  metadata: { name: 'laptop', namespace: 'tenant-acme', creationTimestamp: created },
  spec: { spaceRef: { name: 'vault' }, kind: 'Desktop', selection: { include: ['/home'] }, ...spec },
}) as unknown as Endpoint;
const tenant = (plan: Record<string, string> = {}, contract = 'Active'): Tenant => ({ metadata: { name: 'acme' }, spec: { plan, contract: { state: contract } } }) as unknown as Tenant;
const at = (iso: string) => new Date(iso);

describe('parseDurationMs', () => {
  it('reads Go-style durations of hours, minutes and seconds', () => {
    expect(parseDurationMs('240s')).toBe(240_000);
    expect(parseDurationMs('4m')).toBe(240_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('1.5h')).toBe(5_400_000);
    expect(parseDurationMs('24h')).toBe(86_400_000);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '4', '4 minutes', '4d', '-1m', 'm', '1h 30m']) expect(parseDurationMs(bad), bad).toBeUndefined();
  });
});

describe('expectedInterval', () => {
  it('takes the endpoint\'s own, else its tenant plan\'s, else none', () => {
    expect(expectedInterval(endpoint({ expectedBackupInterval: '4m' }), tenant({ expectedBackupInterval: '24h' }))).toEqual({ text: '4m', ms: 240_000, source: 'spec.expectedBackupInterval' });
    expect(expectedInterval(endpoint(), tenant({ expectedBackupInterval: '24h' }))).toEqual({ text: '24h', ms: 86_400_000, source: 'tenant acme spec.plan.expectedBackupInterval' });
    expect(expectedInterval(endpoint(), tenant())).toBeUndefined();
    expect(expectedInterval(endpoint(), undefined)).toBeUndefined();
  });
});

describe('backupFreshness', () => {
  const every4m = endpoint({ expectedBackupInterval: '4m' });

  it('is on time within the interval of the last backup, and says when to look again', () => {
    expect(backupFreshness(every4m, tenant(), '2026-12-01T11:00:00Z', at('2026-12-01T11:03:00Z'))).toEqual({
      condition: { type: 'BackupOverdue', status: 'False', reason: 'BackupOnTime', message: 'last backup at 2026-12-01T11:00:00Z, expected every 4m (spec.expectedBackupInterval): a backup is due by 2026-12-01T11:04:00Z' },
      recheckAfterMs: 60_000,
    });
  });

  it('is overdue from the moment the interval has passed, naming the interval and the last backup', () => {
    expect(backupFreshness(every4m, tenant(), '2026-12-01T11:00:00Z', at('2026-12-01T11:04:00Z'))).toEqual({
      condition: { type: 'BackupOverdue', status: 'True', reason: 'BackupOverdue', message: 'last backup at 2026-12-01T11:00:00Z, expected every 4m (spec.expectedBackupInterval): overdue since 2026-12-01T11:04:00Z' },
    });
    // The message does not change with the clock, so an unchanged endpoint is not re-patched.
    expect(backupFreshness(every4m, tenant(), '2026-12-01T11:00:00Z', at('2026-12-02T00:00:00Z'))?.condition.message)
      .toBe(backupFreshness(every4m, tenant(), '2026-12-01T11:00:00Z', at('2026-12-01T11:04:00Z'))?.condition.message);
  });

  it('measures a device that never backed up from the endpoint\'s creation', () => {
    const daily = endpoint();
    const plan = tenant({ expectedBackupInterval: '24h' });
    expect(backupFreshness(daily, plan, undefined, at('2026-12-01T22:00:00Z'))).toEqual({
      condition: { type: 'BackupOverdue', status: 'False', reason: 'BackupOnTime', message: 'no backup since the endpoint was created at 2026-12-01T10:00:00Z, expected every 24h (tenant acme spec.plan.expectedBackupInterval): a backup is due by 2026-12-02T10:00:00Z' },
      recheckAfterMs: 12 * 3_600_000,
    });
    expect(backupFreshness(daily, plan, undefined, at('2026-12-02T10:00:01Z'))?.condition).toEqual({
      type: 'BackupOverdue', status: 'True', reason: 'BackupOverdue',
      message: 'no backup since the endpoint was created at 2026-12-01T10:00:00Z, expected every 24h (tenant acme spec.plan.expectedBackupInterval): overdue since 2026-12-02T10:00:00Z',
    });
  });

  it('checks nothing without an interval, or while access is suspended', () => {
    const now = at('2026-12-09T00:00:00Z');
    expect(backupFreshness(endpoint(), tenant(), undefined, now)).toBeUndefined();
    expect(backupFreshness(endpoint({ expectedBackupInterval: '4m', suspended: true }), tenant(), undefined, now)).toBeUndefined();
    expect(backupFreshness(every4m, tenant({}, 'Suspended'), undefined, now)).toBeUndefined();
  });
});

describe('freshnessEvent', () => {
  const overdue = { status: 'True', message: 'late' };
  const onTime = { status: 'False', message: 'fine' };

  it('warns when it turns overdue and says so when backups resume, once per transition', () => {
    expect(freshnessEvent(onTime, overdue)).toEqual({ type: 'Warning', reason: 'BackupOverdue', note: 'late' });
    expect(freshnessEvent(undefined, overdue)).toEqual({ type: 'Warning', reason: 'BackupOverdue', note: 'late' });
    expect(freshnessEvent(overdue, onTime)).toEqual({ type: 'Normal', reason: 'BackupResumed', note: 'fine' });
    expect(freshnessEvent(overdue, overdue)).toBeUndefined();
    expect(freshnessEvent(onTime, onTime)).toBeUndefined();
    expect(freshnessEvent(undefined, onTime)).toBeUndefined();
    expect(freshnessEvent(overdue, undefined)).toBeUndefined();
  });
});
