import { describe, expect, it } from 'vitest';
import { duePeriod, lastEndedPeriod, periodContaining } from './period.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('report periods', () => {
  it('takes the UTC calendar day', () => {
    const p = periodContaining('Daily', at('2026-12-03T23:59:59.999Z'));
    expect(p.id).toBe('2026-12-03');
    expect([iso(p.startMs), iso(p.endMs)]).toEqual(['2026-12-03T00:00:00.000Z', '2026-12-04T00:00:00.000Z']);
  });

  it('takes the ISO week, including weeks that belong to the neighbouring year', () => {
    expect(periodContaining('Weekly', at('2026-12-03T10:00:00Z')).id).toBe('2026-w49');
    // 1 January 2027 is a Friday: ISO week 53 of 2026.
    const p = periodContaining('Weekly', at('2027-01-01T00:00:00Z'));
    expect(p.id).toBe('2026-w53');
    expect([iso(p.startMs), iso(p.endMs)]).toEqual(['2026-12-28T00:00:00.000Z', '2027-01-04T00:00:00.000Z']);
    // 29 December 2025 (Monday) starts week 1 of 2026.
    expect(periodContaining('Weekly', at('2025-12-29T00:00:00Z')).id).toBe('2026-w01');
    expect(periodContaining('Weekly', at('2025-12-28T23:59:59Z')).id).toBe('2025-w52');
  });

  it('takes the calendar month, February of a leap year too', () => {
    const p = periodContaining('Monthly', at('2028-02-29T12:00:00Z'));
    expect(p.id).toBe('2028-02');
    expect([iso(p.startMs), iso(p.endMs)]).toEqual(['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
  });

  it('is due once the period has ended: the last ended one', () => {
    expect(lastEndedPeriod('Daily', at('2026-12-04T00:00:00Z')).id).toBe('2026-12-03');
    expect(lastEndedPeriod('Daily', at('2026-12-03T23:59:59Z')).id).toBe('2026-12-02');
    expect(lastEndedPeriod('Monthly', at('2027-01-01T00:00:01Z')).id).toBe('2026-12');
    expect(lastEndedPeriod('Weekly', at('2026-12-07T00:00:00Z')).id).toBe('2026-w49');
  });

  it('reports nothing when off, or for a period that ended before the tenant existed', () => {
    expect(duePeriod('Off', at('2026-12-04T01:00:00Z'), 0)).toBeUndefined();
    expect(duePeriod('Daily', at('2026-12-04T01:00:00Z'), at('2026-12-04T00:30:00Z'))).toBeUndefined();
    expect(duePeriod('Daily', at('2026-12-04T01:00:00Z'), at('2026-12-03T18:00:00Z'))?.id).toBe('2026-12-03');
  });
});
