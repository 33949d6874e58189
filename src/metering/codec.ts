/**
 * The month state as the ledger stores it (JSON, byte figures as decimal strings: they outgrow a
 * JSON number's exact range), and back. Parsing checks every field, so a hand-edited or truncated
 * state stops metering for that tenant with a message instead of billing from a wrong figure.
 */
import type { InForce, MonthState, MonthUsage, OpenHour } from './accumulate.ts';

type Json = Record<string, unknown>;

const big = (v: bigint): string => v.toString();

function readBig(o: Json, key: string): bigint {
  const v = o[key];
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) throw new Error(`usage state: ${key} is not a non-negative integer string`);
  return BigInt(v);
}

function readInt(o: Json, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`usage state: ${key} is not a non-negative integer`);
  return v;
}

function readString(o: Json, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`usage state: ${key} is not a string`);
  return v;
}

function readNames(o: Json, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`usage state: ${key} is not a list of names`);
  return v as string[];
}

function readObject(o: Json, key: string): Json | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`usage state: ${key} is not an object`);
  return v as Json;
}

export function monthUsageToJson(m: MonthUsage): Json {
  return {
    startS: m.startS,
    endS: m.endS,
    storageByteSeconds: big(m.storageByteSeconds),
    storageBilledByteHours: big(m.storageBilledByteHours),
    storageStartedHours: m.storageStartedHours,
    storagePeakBytes: big(m.storagePeakBytes),
    endpointsActive: m.endpointsActive,
    endpointUnitsPeak: m.endpointUnitsPeak,
    endpoints: [...m.endpoints],
  };
}

export function stateToJson(s: MonthState): string {
  const body: Json = {
    tenant: s.tenant,
    month: s.month,
    startS: s.startS,
    endS: s.endS,
    closedUntilS: s.closedUntilS,
    ...(s.inForce ? { inForce: { atS: s.inForce.atS, storageBytes: big(s.inForce.storageBytes), endpoints: [...s.inForce.endpoints] } } : {}),
    ...(s.hour ? { hour: { startS: s.hour.startS, storageByteSeconds: big(s.hour.storageByteSeconds), storagePeakBytes: big(s.hour.storagePeakBytes) } } : {}),
    storageByteSeconds: big(s.storageByteSeconds),
    storageBilledByteHours: big(s.storageBilledByteHours),
    storageStartedHours: s.storageStartedHours,
    storagePeakBytes: big(s.storagePeakBytes),
    endpointsSeen: [...s.endpointsSeen],
    endpointUnitsPeak: s.endpointUnitsPeak,
    byteSecondsBefore: big(s.byteSecondsBefore),
    ...(s.closed ? { closed: monthUsageToJson(s.closed) } : {}),
  };
  return JSON.stringify(body);
}

function parseMonthUsage(o: Json): MonthUsage {
  return {
    kind: 'month',
    startS: readInt(o, 'startS'),
    endS: readInt(o, 'endS'),
    storageByteSeconds: readBig(o, 'storageByteSeconds'),
    storageBilledByteHours: readBig(o, 'storageBilledByteHours'),
    storageStartedHours: readInt(o, 'storageStartedHours'),
    storagePeakBytes: readBig(o, 'storagePeakBytes'),
    endpointsActive: readInt(o, 'endpointsActive'),
    endpointUnitsPeak: readInt(o, 'endpointUnitsPeak'),
    endpoints: readNames(o, 'endpoints'),
  };
}

export function stateFromJson(text: string): MonthState {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('usage state is not a JSON object');
  const o = parsed as Json;
  const f = readObject(o, 'inForce');
  const h = readObject(o, 'hour');
  const c = readObject(o, 'closed');
  const inForce: InForce | undefined = f ? { atS: readInt(f, 'atS'), storageBytes: readBig(f, 'storageBytes'), endpoints: readNames(f, 'endpoints') } : undefined;
  const hour: OpenHour | undefined = h ? { startS: readInt(h, 'startS'), storageByteSeconds: readBig(h, 'storageByteSeconds'), storagePeakBytes: readBig(h, 'storagePeakBytes') } : undefined;
  return {
    tenant: readString(o, 'tenant'),
    month: readString(o, 'month'),
    startS: readInt(o, 'startS'),
    endS: readInt(o, 'endS'),
    closedUntilS: readInt(o, 'closedUntilS'),
    ...(inForce ? { inForce } : {}),
    ...(hour ? { hour } : {}),
    storageByteSeconds: readBig(o, 'storageByteSeconds'),
    storageBilledByteHours: readBig(o, 'storageBilledByteHours'),
    storageStartedHours: readInt(o, 'storageStartedHours'),
    storagePeakBytes: readBig(o, 'storagePeakBytes'),
    endpointsSeen: readNames(o, 'endpointsSeen'),
    endpointUnitsPeak: readInt(o, 'endpointUnitsPeak'),
    byteSecondsBefore: readBig(o, 'byteSecondsBefore'),
    ...(c ? { closed: parseMonthUsage(c) } : {}),
  };
}
