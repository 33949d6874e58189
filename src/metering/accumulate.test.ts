import { describe, expect, it } from 'vitest';
import { advance, byteSecondsTotal, changesState, nextMonth, openMonth, type MonthState, type UsageRecord, type UsageSample } from './accumulate.ts';
import { stateFromJson, stateToJson } from './codec.ts';

const at = (iso: string) => Date.parse(iso) / 1000;
const sample = (iso: string, bytes: number, endpoints: string[]): UsageSample => ({ atS: at(iso), storageBytes: BigInt(bytes), endpoints });

/**
 * The scripted timeline, UTC. The figures below are worked out by hand from it.
 *   11-30 22:30  1000 B  {a}      first sample
 *   11-30 22:45  3000 B  {a,b}    grows, b added
 *   11-30 23:10  2000 B  {b}      shrinks, a removed (hour 22 closes)
 *   11-30 23:50  2000 B  {b,c}    c added
 *   12-01 00:20   500 B  {c}      shrinks, b removed (hour 23 and November close)
 *   12-01 01:00     0 B  {c}      exactly on an hour boundary (hour 00 closes)
 *   12-01 02:30     0 B  {c}      (hour 01 closes, empty)
 */
const TIMELINE: UsageSample[] = [
  sample('2026-11-30T22:30:00Z', 1000, ['a']),
  sample('2026-11-30T22:45:00Z', 3000, ['b', 'a']),
  sample('2026-11-30T23:10:00Z', 2000, ['b']),
  sample('2026-11-30T23:50:00Z', 2000, ['b', 'c']),
  sample('2026-12-01T00:20:00Z', 500, ['c']),
  sample('2026-12-01T01:00:00Z', 0, ['c']),
  sample('2026-12-01T02:30:00Z', 0, ['c']),
];

/** Runs samples; `restartAfter` indexes where the state goes through its stored JSON form, as a restarted operator reads it. */
function run(samples: readonly UsageSample[], restartAfter: number[] = []): { state: MonthState; records: { month: string; record: UsageRecord }[]; months: MonthState[] } {
  let state = openMonth('acme', samples[0]?.atS ?? 0);
  const records: { month: string; record: UsageRecord }[] = [];
  const months: MonthState[] = [];
  samples.forEach((s, i) => {
    const out = advance(state, s);
    records.push(...out.records);
    months.push(...out.states.filter((m) => m.closed));
    state = out.states[out.states.length - 1] ?? state;
    if (restartAfter.includes(i)) state = stateFromJson(stateToJson(state));
  });
  return { state, records, months };
}

describe('the scripted timeline', () => {
  const straight = run(TIMELINE);

  it('integrates byte-seconds per UTC hour and bills each started hour at its peak', () => {
    const hours = straight.records.filter((r) => r.record.kind === 'hour').map((r) => r.record);
    expect(hours).toEqual([
      // Hour 22: 1000 B × 900 s (22:30–22:45) + 3000 B × 900 s (22:45–23:00) = 900 000 + 2 700 000.
      { kind: 'hour', startS: at('2026-11-30T22:00:00Z'), endS: at('2026-11-30T23:00:00Z'), storageByteSeconds: 3_600_000n, storagePeakBytes: 3000n },
      // Hour 23: 3000 × 600 (23:00–23:10) + 2000 × 2400 (23:10–23:50) + 2000 × 600 (23:50–24:00)
      // = 1 800 000 + 4 800 000 + 1 200 000; the 3000 B carried in from hour 22 is its peak.
      { kind: 'hour', startS: at('2026-11-30T23:00:00Z'), endS: at('2026-12-01T00:00:00Z'), storageByteSeconds: 7_800_000n, storagePeakBytes: 3000n },
      // Hour 00: 2000 × 1200 (00:00–00:20) + 500 × 2400 (00:20–01:00) = 2 400 000 + 1 200 000.
      { kind: 'hour', startS: at('2026-12-01T00:00:00Z'), endS: at('2026-12-01T01:00:00Z'), storageByteSeconds: 3_600_000n, storagePeakBytes: 2000n },
      // Hour 01 holds 0 B throughout (the 500 B ended at 01:00:00 sharp): not started, no record.
    ]);
  });

  it('closes November with its statement at the month boundary', () => {
    const months = straight.records.filter((r) => r.record.kind === 'month');
    expect(months).toEqual([{
      month: '2026-11',
      record: {
        kind: 'month',
        startS: at('2026-11-01T00:00:00Z'),
        endS: at('2026-12-01T00:00:00Z'),
        storageByteSeconds: 11_400_000n, // 3 600 000 + 7 800 000
        storageBilledByteHours: 6000n, // two started hours, each at its 3000 B peak
        storageStartedHours: 2,
        storagePeakBytes: 3000n,
        endpointsActive: 3, // a, b, c all existed in November
        endpointUnitsPeak: 2, // {a,b} at 22:45, {b,c} at 23:50
        endpoints: ['a', 'b', 'c'],
      },
    }]);
  });

  it('starts December from what was in force at midnight, and nothing else', () => {
    const s = straight.state;
    expect(s.month).toBe('2026-12');
    // {b,c} held 00:00–00:20, then {c}: two endpoints active, two at once; 2000 B held 00:00–00:20.
    expect({ active: s.endpointsSeen, peak: s.endpointUnitsPeak, storagePeak: s.storagePeakBytes }).toEqual({ active: ['b', 'c'], peak: 2, storagePeak: 2000n });
    expect({ closedHours: s.storageStartedHours, billed: s.storageBilledByteHours, byteSeconds: s.storageByteSeconds }).toEqual({ closedHours: 1, billed: 2000n, byteSeconds: 3_600_000n });
    // Hours 00 and 01 are closed; hour 02 is open with 0 B so far.
    expect(s.closedUntilS).toBe(at('2026-12-01T02:00:00Z'));
    expect(byteSecondsTotal(s)).toBe(15_000_000n); // 11 400 000 + 3 600 000 + 0
  });

  it('gives the same records and state across a restart mid-hour, at the month boundary and mid-December', () => {
    for (const restartAfter of [[2], [3], [4], [0, 1, 2, 3, 4, 5]]) {
      const restarted = run(TIMELINE, restartAfter);
      expect(restarted.records).toEqual(straight.records);
      expect(stateToJson(restarted.state)).toBe(stateToJson(straight.state));
    }
  });

  it('continues a closed month that was stored without its successor (a crash between the two writes)', () => {
    const november = straight.months[0];
    if (!november) throw new Error('November did not close');
    let state = nextMonth(stateFromJson(stateToJson(november)));
    const records: UsageRecord[] = [];
    for (const s of TIMELINE.slice(4)) {
      const out = advance(state, s);
      records.push(...out.records.map((r) => r.record));
      state = out.states[out.states.length - 1] ?? state;
    }
    expect(records).toEqual(straight.records.filter((r) => r.month === '2026-12').map((r) => r.record));
    expect(stateToJson(state)).toBe(stateToJson(straight.state));
  });

  it('skips samples that change nothing, exactly', () => {
    // Same figures every minute from 22:30 to 23:10: only the first, the changes and the hour crossing count.
    const dense: UsageSample[] = [];
    for (let t = at('2026-11-30T22:30:00Z'); t <= at('2026-11-30T23:10:00Z'); t += 60) dense.push({ atS: t, storageBytes: t < at('2026-11-30T22:45:00Z') ? 1000n : 3000n, endpoints: ['a'] });
    let state = openMonth('acme', dense[0]?.atS ?? 0);
    let written = 0;
    for (const s of dense) {
      if (!changesState(state, s)) continue;
      written += 1;
      state = advance(state, s).states.at(-1) ?? state;
    }
    expect(written).toBe(3); // 22:30 (first), 22:45 (grows), 23:00 (hour 22 closes)
    // Hour 22 closed as in the timeline (900 000 + 2 700 000); hour 23 is open, nothing integrated yet.
    expect(state.storageByteSeconds).toBe(3_600_000n);
    expect(state.hour).toEqual({ startS: at('2026-11-30T23:00:00Z'), storageByteSeconds: 0n, storagePeakBytes: 3000n });
  });
});

describe('advance', () => {
  it('refuses a sample older than the figures in force: a closed hour never changes', () => {
    const state = advance(openMonth('acme', at('2026-11-30T22:30:00Z')), sample('2026-11-30T23:10:00Z', 10, [])).states[0];
    if (!state) throw new Error('no state');
    expect(() => advance(state, sample('2026-11-30T22:59:00Z', 10, []))).toThrow(/older/);
  });

  it('closes every month of a long pause, carrying what was in force', () => {
    let state = advance(openMonth('acme', at('2026-10-31T23:00:00Z')), sample('2026-10-31T23:00:00Z', 7, ['a'])).states[0];
    if (!state) throw new Error('no state');
    const out = advance(state, sample('2027-01-01T00:30:00Z', 7, ['a']));
    state = out.states.at(-1) ?? state;
    const months = out.records.filter((r) => r.record.kind === 'month').map((r) => [r.month, r.record.kind === 'month' ? r.record.storageByteSeconds : 0n]);
    // October: 7 B × 3600 s; November: 7 × 30 days × 86 400 s; December: 7 × 31 × 86 400.
    expect(months).toEqual([['2026-10', 25_200n], ['2026-11', 18_144_000n], ['2026-12', 18_748_800n]]);
    expect(out.records.filter((r) => r.record.kind === 'hour')).toHaveLength(1 + 720 + 744);
    expect(state.month).toBe('2027-01');
    expect(byteSecondsTotal(state)).toBe(25_200n + 18_144_000n + 18_748_800n + 7n * 1800n);
  });
});
