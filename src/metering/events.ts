/**
 * Usage records as CloudEvents 1.0 (structured JSON mode), the form a billing system imports. Every
 * field is a function of the tenant and the closed period's figures — `time` is the period's end,
 * not when it was written — so a record written twice is the same bytes, and `id` (a hash of
 * tenant, type and period start) lets an importer drop what it has already seen: importing the
 * ledger again, or after a restart, counts nothing twice.
 *
 * Byte figures are decimal strings (a month of byte-seconds outgrows a JSON number's exact range);
 * counts are numbers. Units are base units: bytes, byte-seconds, byte-hours.
 */
import { createHash } from 'node:crypto';
import type { UsageRecord } from './accumulate.ts';

export const EVENT_SOURCE = '/tenantbackup.io/metering';
export const HOUR_EVENT_TYPE = 'io.tenantbackup.usage.hour.v1';
export const MONTH_EVENT_TYPE = 'io.tenantbackup.usage.month.v1';

export interface UsageEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: typeof HOUR_EVENT_TYPE | typeof MONTH_EVENT_TYPE;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

const iso = (s: number) => new Date(s * 1000).toISOString();

export function eventId(tenant: string, type: string, periodStartS: number): string {
  return createHash('sha256').update(`${tenant}\n${type}\n${iso(periodStartS)}`).digest('hex').slice(0, 32);
}

export function usageEvent(tenant: string, record: UsageRecord): UsageEvent {
  const type = record.kind === 'hour' ? HOUR_EVENT_TYPE : MONTH_EVENT_TYPE;
  const period = { tenant, periodStart: iso(record.startS), periodEnd: iso(record.endS) };
  const data = record.kind === 'hour'
    ? { ...period, storageByteSeconds: record.storageByteSeconds.toString(), storagePeakBytes: record.storagePeakBytes.toString() }
    : {
        ...period,
        storageByteSeconds: record.storageByteSeconds.toString(),
        storageBilledByteHours: record.storageBilledByteHours.toString(),
        storageStartedHours: record.storageStartedHours,
        storagePeakBytes: record.storagePeakBytes.toString(),
        endpointsActive: record.endpointsActive,
        endpointUnitsPeak: record.endpointUnitsPeak,
        endpoints: [...record.endpoints],
      };
  return { specversion: '1.0', id: eventId(tenant, type, record.startS), source: EVENT_SOURCE, type, subject: tenant, time: iso(record.endS), datacontenttype: 'application/json', data };
}

/** The ConfigMap data key of a record: sortable, one per period, e.g. hour-2026-11-30T22.json, month-2026-11.json. */
export function recordKey(record: UsageRecord): string {
  const at = iso(record.startS);
  return record.kind === 'hour' ? `hour-${at.slice(0, 13)}.json` : `month-${at.slice(0, 7)}.json`;
}
