import { describe, expect, it } from 'vitest';
import { advance, openMonth, type MonthState } from './accumulate.ts';
import { meteringStep } from './step.ts';

const at = (iso: string) => Date.parse(iso) / 1000;
const sample = (iso: string, bytes: number, endpoints: string[]) => ({ atS: at(iso), storageBytes: BigInt(bytes), endpoints });
const after = (state: MonthState, iso: string, bytes: number, endpoints: string[]): MonthState => advance(state, sample(iso, bytes, endpoints)).states.at(-1) ?? state;
const november = after(openMonth('acme', at('2026-11-30T22:30:00Z')), '2026-11-30T22:30:00Z', 1000, ['a']);

describe('meteringStep', () => {
  it('opens a first month at a present tenant\'s first sample', () => {
    const step = meteringStep('acme', true, undefined, sample('2026-11-30T22:30:00Z', 0, []));
    expect(step.kind === 'write' && step.advanced.states.map((s) => s.month)).toEqual(['2026-11']);
  });

  it('skips an unchanged sample and waits for a clock that went back', () => {
    expect(meteringStep('acme', true, november, sample('2026-11-30T22:59:59Z', 1000, ['a']))).toEqual({ kind: 'unchanged' });
    expect(meteringStep('acme', true, november, sample('2026-11-30T22:00:00Z', 1000, ['a']))).toEqual({ kind: 'clock-behind', inForceSinceS: at('2026-11-30T22:30:00Z') });
  });

  it('writes the next month after a closed one stored alone', () => {
    const closed = advance(november, sample('2026-12-01T00:00:00Z', 1000, ['a'])).states[0];
    if (!closed?.closed) throw new Error('November did not close');
    const step = meteringStep('acme', true, closed, sample('2026-12-01T00:01:00Z', 1000, ['a']));
    expect(step.kind === 'write' && step.advanced.states.map((s) => s.month)).toEqual(['2026-12']);
  });

  it('meters a gone tenant to the end of its month, then stops', () => {
    expect(meteringStep('acme', false, undefined, sample('2026-12-01T00:00:00Z', 0, []))).toEqual({ kind: 'done' });
    // Deleted, seen at 23:00: November runs on with nothing; at December it closes and no December is written.
    const gone = after(november, '2026-11-30T23:00:00Z', 0, []);
    const step = meteringStep('acme', false, gone, sample('2026-12-01T00:05:00Z', 0, []));
    expect(step.kind === 'write' && step.advanced.states.map((s) => [s.month, s.closed !== undefined])).toEqual([['2026-11', true]]);
    if (step.kind !== 'write') return;
    expect(meteringStep('acme', false, step.advanced.states[0], sample('2026-12-01T01:00:00Z', 0, []))).toEqual({ kind: 'done' });
  });

  it('keeps the next month of a gone tenant when figures carried into it were used there', () => {
    // The deletion is seen only at 00:05 December: {a} and 1000 B held 00:00–00:05, December is billed for them.
    const step = meteringStep('acme', false, november, sample('2026-12-01T00:05:00Z', 0, []));
    expect(step.kind === 'write' && step.advanced.states.map((s) => [s.month, s.closed !== undefined])).toEqual([['2026-11', true], ['2026-12', false]]);
    const december = step.kind === 'write' ? step.advanced.states[1] : undefined;
    expect({ seen: december?.endpointsSeen, byteSeconds: december?.hour?.storageByteSeconds }).toEqual({ seen: ['a'], byteSeconds: 300_000n });
  });
});
