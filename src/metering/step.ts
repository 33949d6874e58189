/**
 * What one look at a tenant does with its ledger, decided from what is stored and the sample: the
 * metering runner's logic without its I/O. Pure.
 */
import { advance, changesState, nextMonth, openMonth, type Advanced, type MonthState, type UsageSample } from './accumulate.ts';

export type MeteringStep =
  /** Nothing more to meter: the tenant is gone and its last month is closed (or it never had one). */
  | { kind: 'done' }
  /** The clock is behind the figures in force (moved back): no sample until it catches up. */
  | { kind: 'clock-behind'; inForceSinceS: number }
  /** The sample changes nothing stored: skipping it is exact. */
  | { kind: 'unchanged' }
  | { kind: 'write'; advanced: Advanced };

/**
 * A gone tenant's advance, without the month opened after its last one closed when nothing was used
 * in it (figures carried over a deletion the runner saw late are still metered, to that month's end).
 */
function withoutEmptySuccessor(advanced: Advanced): Advanced {
  const open = advanced.states.at(-1);
  const closed = advanced.states.filter((s) => s.closed);
  if (!open || closed.length === 0 || open.storagePeakBytes > 0n || open.endpointsSeen.length > 0) return advanced;
  return { states: closed, records: advanced.records };
}

/** `last`: the tenant's newest stored month; `present`: whether the Tenant exists (else the sample is a gone one). */
export function meteringStep(tenant: string, present: boolean, last: MonthState | undefined, sample: UsageSample): MeteringStep {
  if (!present && (!last || last.closed)) return { kind: 'done' };
  const state = last ? (last.closed ? nextMonth(last) : last) : openMonth(tenant, sample.atS);
  if (state.inForce && sample.atS < state.inForce.atS) return { kind: 'clock-behind', inForceSinceS: state.inForce.atS };
  if (last && !last.closed && !changesState(state, sample)) return { kind: 'unchanged' };
  const advanced = advance(state, sample);
  return { kind: 'write', advanced: present ? advanced : withoutEmptySuccessor(advanced) };
}
