/**
 * Backup freshness (S16): whether a device has backed up as often as its plan expects. The expected
 * interval is the Endpoint's spec.expectedBackupInterval, else its tenant's
 * spec.plan.expectedBackupInterval; neither set means no check. A device that never backed up is
 * measured from the endpoint's creation. Pure: the clock is an argument, and the answer says when to
 * look again, so the controller requeues the endpoint at the moment it would turn overdue instead of
 * waiting for some other change to reconcile it.
 *
 * BackupOverdue is informational: it never touches Ready, Reconciling or Stalled, so kstatus, Flux
 * and Argo CD read an overdue endpoint as healthy (the device is late; nothing in the cluster is
 * broken). Its messages carry absolute times only, so an unchanged situation writes the same status.
 */
import { DURATION_PATTERN } from '../../api/schema.ts';
import type { Endpoint, Tenant } from '../../api/types.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';

export const BACKUP_OVERDUE = 'BackupOverdue';
export const BACKUP_ON_TIME = 'BackupOnTime';

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000 } as const;

/** Milliseconds of a Go-style duration of hours, minutes and seconds (e.g. 1h30m, 240s, 1.5h); undefined if it is not one. */
export function parseDurationMs(value: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/([0-9]+(?:[.][0-9]+)?)(h|m|s)/g)) total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return Math.round(total);
}

export interface ExpectedInterval {
  /** As written, e.g. 4m. */
  text: string;
  ms: number;
  /** Which field set it, for the messages. */
  source: string;
}

/** The interval that applies to the endpoint, or undefined when no freshness check is asked for (or the value is unreadable). */
export function expectedInterval(endpoint: Endpoint, tenant: Tenant | undefined): ExpectedInterval | undefined {
  const own = endpoint.spec.expectedBackupInterval;
  const inherited = tenant?.spec.plan?.expectedBackupInterval;
  const [text, source] = own !== undefined
    ? [own, 'spec.expectedBackupInterval']
    : inherited !== undefined ? [inherited, `tenant ${tenant?.metadata.name ?? ''} spec.plan.expectedBackupInterval`] : [undefined, ''];
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text);
  // The CRD refuses anything else; an object stored before the rule existed is not checked rather than misread.
  return ms !== undefined && ms >= 1000 ? { text, ms, source } : undefined;
}

export interface Freshness {
  /** The BackupOverdue condition to set. */
  condition: ConditionInput;
  /** When it would turn overdue, if it is on time now: reconcile again after this many milliseconds. */
  recheckAfterMs?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The endpoint's access is refused: suspended itself, or its tenant's contract is. */
export function accessSuspended(endpoint: Endpoint, tenant: Tenant | undefined): boolean {
  return endpoint.spec.suspended === true || tenant?.spec.contract?.state === 'Suspended';
}

/**
 * The BackupOverdue condition of an endpoint given its last backup (status.lastBackupTime) at `now`;
 * undefined when no check applies: no expected interval, or access suspended (no backup is expected).
 */
export function backupFreshness(endpoint: Endpoint, tenant: Tenant | undefined, lastBackupTime: string | undefined, now: Date): Freshness | undefined {
  if (accessSuspended(endpoint, tenant)) return undefined;
  const interval = expectedInterval(endpoint, tenant);
  if (!interval) return undefined;
  const last = lastBackupTime !== undefined ? Date.parse(lastBackupTime) : NaN;
  // A string as the API server sends it; typed as a Date by the client library's metadata type.
  const createdAt: string | Date | undefined = endpoint.metadata.creationTimestamp;
  const created = createdAt instanceof Date ? createdAt.getTime() : Date.parse(createdAt ?? '');
  const since = Number.isNaN(last) ? created : last;
  if (Number.isNaN(since)) return undefined; // neither a backup nor a creation time: nothing to measure from
  const due = since + interval.ms;
  const expected = `expected every ${interval.text} (${interval.source})`;
  const what = Number.isNaN(last)
    ? `no backup since the endpoint was created at ${iso(created)}`
    : `last backup at ${iso(last)}`;
  if (now.getTime() >= due) {
    return { condition: { type: BACKUP_OVERDUE, status: 'True', reason: BACKUP_OVERDUE, message: `${what}, ${expected}: overdue since ${iso(due)}` } };
  }
  return {
    condition: { type: BACKUP_OVERDUE, status: 'False', reason: BACKUP_ON_TIME, message: `${what}, ${expected}: a backup is due by ${iso(due)}` },
    recheckAfterMs: due - now.getTime(),
  };
}

/** The Event a change of BackupOverdue calls for: Warning when it turns True, Normal when it turns back; none otherwise. */
export function freshnessEvent(
  before: { status: string } | undefined,
  after: { status: string; message: string } | undefined,
): { type: 'Warning' | 'Normal'; reason: 'BackupOverdue' | 'BackupResumed'; note: string } | undefined {
  if (after?.status === 'True' && before?.status !== 'True') return { type: 'Warning', reason: 'BackupOverdue', note: after.message };
  if (after?.status === 'False' && before?.status === 'True') return { type: 'Normal', reason: 'BackupResumed', note: after.message };
  return undefined;
}
