/**
 * Pure usage arithmetic for metering (S10: billing per started hour or per month, devices counted as
 * units every month). A tenant's usage is a series of samples: at a time (whole seconds), the bytes
 * its spaces hold and the endpoints it has. A sample's figures hold from its time until the next
 * sample's (piecewise constant), so byte-seconds are exact integers (bigint), split at UTC hour and
 * month boundaries.
 *
 * The state of one tenant's open UTC month (MonthState) is all there is to remember: it is what the
 * ledger stores (ledger.ts), so an operator restarted from it continues with exactly the figures it
 * would have reached without the restart. Functions here never mutate their arguments.
 *
 * Figures per UTC hour (hourly plans):
 * - storageByteSeconds: the integral of the bytes held over the hour.
 * - storagePeakBytes: the most bytes held at any time in the hour. An hour is "started" when this is
 *   above zero; billing per started hour bills such an hour whole at this figure, so the month's
 *   storageBilledByteHours is the sum of the started hours' peaks (in byte-hours).
 * Figures per UTC month (monthly plans): storagePeakBytes, storageByteSeconds, the started hours and
 * their billed byte-hours, endpointsActive (distinct endpoints that existed at any time in the
 * month) and endpointUnitsPeak (the most endpoints at one time).
 */

export const HOUR_S = 3600;

export interface UsageSample {
  /** Seconds since the epoch. */
  readonly atS: number;
  readonly storageBytes: bigint;
  /** Names of the tenant's endpoints at that time. */
  readonly endpoints: readonly string[];
}

/** The figures in force since `atS` (endpoints sorted, distinct). */
export interface InForce {
  readonly atS: number;
  readonly storageBytes: bigint;
  readonly endpoints: readonly string[];
}

export interface OpenHour {
  readonly startS: number;
  readonly storageByteSeconds: bigint;
  readonly storagePeakBytes: bigint;
}

/** A closed UTC hour in which storage was held. */
export interface HourUsage {
  readonly kind: 'hour';
  readonly startS: number;
  readonly endS: number;
  readonly storageByteSeconds: bigint;
  readonly storagePeakBytes: bigint;
}

/** A closed UTC month: the monthly statement's figures. */
export interface MonthUsage {
  readonly kind: 'month';
  readonly startS: number;
  readonly endS: number;
  readonly storageByteSeconds: bigint;
  readonly storageBilledByteHours: bigint;
  readonly storageStartedHours: number;
  readonly storagePeakBytes: bigint;
  readonly endpointsActive: number;
  readonly endpointUnitsPeak: number;
  readonly endpoints: readonly string[];
}

export type UsageRecord = HourUsage | MonthUsage;

export interface MonthState {
  readonly tenant: string;
  /** YYYY-MM (UTC). */
  readonly month: string;
  readonly startS: number;
  readonly endS: number;
  /** Hours before this instant are closed: their records exist and never change. */
  readonly closedUntilS: number;
  readonly inForce?: InForce;
  readonly hour?: OpenHour;
  /** Sums over the month's closed hours. */
  readonly storageByteSeconds: bigint;
  readonly storageBilledByteHours: bigint;
  readonly storageStartedHours: number;
  readonly storagePeakBytes: bigint;
  readonly endpointsSeen: readonly string[];
  readonly endpointUnitsPeak: number;
  /** Byte-seconds of every earlier month of this ledger (for a counter that never resets). */
  readonly byteSecondsBefore: bigint;
  /** Set once the month has ended; nothing in the state changes after that. */
  readonly closed?: MonthUsage;
}

export interface Advanced {
  /** The states touched, oldest first: months closed on the way, then the open month. */
  readonly states: readonly MonthState[];
  /** Records of the periods that closed, oldest first, each in its month's state order. */
  readonly records: readonly { month: string; record: UsageRecord }[];
}

const pad = (n: number) => String(n).padStart(2, '0');
const maxBig = (a: bigint, b: bigint) => (a > b ? a : b);
const sortedDistinct = (names: readonly string[]) => [...new Set(names)].sort();

export const hourStart = (atS: number): number => Math.floor(atS / HOUR_S) * HOUR_S;

/** The UTC month containing the instant: its key and bounds in seconds. */
export function monthOf(atS: number): { month: string; startS: number; endS: number } {
  const d = new Date(atS * 1000);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return { month: `${y}-${pad(m + 1)}`, startS: Date.UTC(y, m, 1) / 1000, endS: Date.UTC(y, m + 1, 1) / 1000 };
}

/** A tenant's first month, opened at its first sample. */
export function openMonth(tenant: string, atS: number, carried?: { inForce?: InForce; byteSecondsBefore: bigint }): MonthState {
  const { month, startS, endS } = monthOf(atS);
  return {
    tenant,
    month,
    startS,
    endS,
    closedUntilS: startS,
    ...(carried?.inForce ? { inForce: carried.inForce } : {}),
    storageByteSeconds: 0n,
    storageBilledByteHours: 0n,
    storageStartedHours: 0,
    storagePeakBytes: 0n,
    endpointsSeen: [],
    endpointUnitsPeak: 0,
    byteSecondsBefore: carried?.byteSecondsBefore ?? 0n,
  };
}

/** The month after a closed one: the figures in force at its end carry over, nothing else. */
export function nextMonth(closed: MonthState): MonthState {
  if (!closed.closed) throw new Error(`usage month ${closed.tenant}/${closed.month} is still open`);
  const inForce = closed.inForce ? { ...closed.inForce, atS: Math.max(closed.inForce.atS, closed.endS) } : undefined;
  return openMonth(closed.tenant, closed.endS, { ...(inForce ? { inForce } : {}), byteSecondsBefore: closed.byteSecondsBefore + closed.storageByteSeconds });
}

/** Byte-seconds of the ledger so far: earlier months, this month's closed hours, the open hour. */
export function byteSecondsTotal(state: MonthState): bigint {
  return state.byteSecondsBefore + state.storageByteSeconds + (state.hour?.storageByteSeconds ?? 0n);
}

/** The month's endpoint and storage figures so far, the open hour included (for gauges). */
export function monthToDate(state: MonthState): { storagePeakBytes: bigint; endpointsActive: number; endpointUnitsPeak: number } {
  return { storagePeakBytes: state.storagePeakBytes, endpointsActive: state.endpointsSeen.length, endpointUnitsPeak: state.endpointUnitsPeak };
}

/** Whether a sample changes anything stored: new figures, or a closed hour. Skipping one that does not is exact. */
export function changesState(state: MonthState, sample: UsageSample): boolean {
  const f = state.inForce;
  if (!f || state.closed) return true;
  if (sample.atS >= hourStart(f.atS) + HOUR_S) return true;
  const endpoints = sortedDistinct(sample.endpoints);
  return f.storageBytes !== sample.storageBytes || endpoints.length !== f.endpoints.length || endpoints.some((e, i) => e !== f.endpoints[i]);
}

type Mutable = { -readonly [K in keyof MonthState]: MonthState[K] };

/** Counts figures that held in the month (for any time, or just came into force) into its peaks. */
function countInMonth(s: Mutable, f: { storageBytes: bigint; endpoints: readonly string[] }): void {
  s.storagePeakBytes = maxBig(s.storagePeakBytes, f.storageBytes);
  if (f.endpoints.some((e) => !s.endpointsSeen.includes(e))) s.endpointsSeen = sortedDistinct([...s.endpointsSeen, ...f.endpoints]);
  s.endpointUnitsPeak = Math.max(s.endpointUnitsPeak, f.endpoints.length);
}

function countInHour(s: Mutable, startS: number, f: { storageBytes: bigint }, seconds: number): void {
  const hour = s.hour?.startS === startS ? s.hour : { startS, storageByteSeconds: 0n, storagePeakBytes: 0n };
  s.hour = { startS, storageByteSeconds: hour.storageByteSeconds + f.storageBytes * BigInt(seconds), storagePeakBytes: maxBig(hour.storagePeakBytes, f.storageBytes) };
}

function closeHour(s: Mutable, endS: number, records: UsageRecord[]): void {
  const hour = s.hour;
  s.closedUntilS = endS;
  s.hour = undefined;
  if (!hour) return;
  s.storageByteSeconds += hour.storageByteSeconds;
  if (hour.storagePeakBytes === 0n) return;
  s.storageStartedHours += 1;
  s.storageBilledByteHours += hour.storagePeakBytes;
  records.push({ kind: 'hour', startS: hour.startS, endS: hour.startS + HOUR_S, storageByteSeconds: hour.storageByteSeconds, storagePeakBytes: hour.storagePeakBytes });
}

function monthRecord(s: Mutable): MonthUsage {
  return {
    kind: 'month',
    startS: s.startS,
    endS: s.endS,
    storageByteSeconds: s.storageByteSeconds,
    storageBilledByteHours: s.storageBilledByteHours,
    storageStartedHours: s.storageStartedHours,
    storagePeakBytes: s.storagePeakBytes,
    endpointsActive: s.endpointsSeen.length,
    endpointUnitsPeak: s.endpointUnitsPeak,
    endpoints: s.endpointsSeen,
  };
}

/**
 * Moves a tenant's usage on to a sample: the figures in force until then are integrated hour by
 * hour; every hour and month that ended by the sample's time is closed, with its record; then the
 * sample's figures come into force. A sample older than what is in force is refused (the clock went
 * back): closed periods never change.
 */
export function advance(state: MonthState, sample: UsageSample): Advanced {
  if (!Number.isInteger(sample.atS)) throw new Error('usage samples are taken at whole seconds');
  if (sample.storageBytes < 0n) throw new Error('storage bytes cannot be negative');
  if (state.closed) throw new Error(`usage month ${state.tenant}/${state.month} is closed`);
  if (sample.atS < state.closedUntilS || (state.inForce && sample.atS < state.inForce.atS)) {
    throw new Error(`usage sample at ${sample.atS} is older than the figures in force for ${state.tenant}`);
  }
  const states: MonthState[] = [];
  const records: { month: string; record: UsageRecord }[] = [];
  let s: Mutable = { ...state };
  let f = s.inForce;
  while (f && f.atS < sample.atS) {
    const startS = hourStart(f.atS);
    const untilS = Math.min(startS + HOUR_S, sample.atS);
    countInHour(s, startS, f, untilS - f.atS);
    countInMonth(s, f);
    f = { ...f, atS: untilS };
    s.inForce = f;
    if (untilS === startS + HOUR_S) {
      const closedHours: UsageRecord[] = [];
      closeHour(s, untilS, closedHours);
      for (const record of closedHours) records.push({ month: s.month, record });
    }
    if (untilS === s.endS) {
      s.closed = monthRecord(s);
      records.push({ month: s.month, record: s.closed });
      states.push(s);
      s = { ...nextMonth(s) };
      f = s.inForce;
    }
  }
  // A first sample, or one after a long pause of a gone tenant, may start in a later month.
  while (sample.atS >= s.endS) {
    const empty = { ...s, closedUntilS: s.endS, closed: monthRecord(s) };
    records.push({ month: s.month, record: empty.closed });
    states.push(empty);
    s = { ...nextMonth(empty) };
  }
  const endpoints = sortedDistinct(sample.endpoints);
  const now = { atS: sample.atS, storageBytes: sample.storageBytes, endpoints };
  if (s.hour === undefined || s.hour.startS !== hourStart(sample.atS)) {
    // Hours with nothing in force (before a first sample) close empty.
    s.closedUntilS = Math.max(s.closedUntilS, hourStart(sample.atS));
  }
  countInHour(s, hourStart(sample.atS), now, 0);
  countInMonth(s, now);
  s.inForce = now;
  states.push(s);
  return { states, records };
}
