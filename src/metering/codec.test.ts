import { describe, expect, it } from 'vitest';
import { advance, openMonth } from './accumulate.ts';
import { stateFromJson, stateToJson } from './codec.ts';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('the stored month state', () => {
  const state = advance(openMonth('acme', at('2026-11-30T22:30:00Z')), { atS: at('2026-11-30T22:30:00Z'), storageBytes: 2n ** 70n, endpoints: ['b', 'a'] }).states[0];

  it('keeps byte figures beyond a JSON number exactly', () => {
    if (!state) throw new Error('no state');
    const text = stateToJson(state);
    expect(text).toContain('"storageBytes":"1180591620717411303424"');
    expect(stateToJson(stateFromJson(text))).toBe(text);
    expect(stateFromJson(text).inForce).toEqual({ atS: at('2026-11-30T22:30:00Z'), storageBytes: 2n ** 70n, endpoints: ['a', 'b'] });
  });

  it('refuses a state with a figure that is not a non-negative integer', () => {
    if (!state) throw new Error('no state');
    const broken = stateToJson(state).replace('"storageByteSeconds":"0"', '"storageByteSeconds":"-5"');
    expect(() => stateFromJson(broken)).toThrow(/storageByteSeconds is not a non-negative integer string/);
    expect(() => stateFromJson('[]')).toThrow(/not a JSON object/);
  });
});
