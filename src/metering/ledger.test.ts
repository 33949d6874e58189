import { describe, expect, it } from 'vitest';
import { advance, openMonth, type HourUsage } from './accumulate.ts';
import { stateFromJson } from './codec.ts';
import { eventId, HOUR_EVENT_TYPE, usageEvent } from './events.ts';
import { ledgerData, recordsOf, STATE_KEY } from './ledger.ts';

const at = (iso: string) => Date.parse(iso) / 1000;
const first = advance(openMonth('acme', at('2026-11-30T22:30:00Z')), { atS: at('2026-11-30T22:30:00Z'), storageBytes: 1000n, endpoints: ['a'] });
const second = advance(first.states[0] ?? openMonth('acme', 0), { atS: at('2026-11-30T23:10:00Z'), storageBytes: 2000n, endpoints: ['a'] });
const hour22 = second.records[0]?.record as HourUsage;

describe('usage events', () => {
  it('are CloudEvents 1.0 whose id and body depend only on tenant and period', () => {
    const event = usageEvent('acme', hour22);
    expect(event).toEqual({
      specversion: '1.0',
      id: eventId('acme', HOUR_EVENT_TYPE, at('2026-11-30T22:00:00Z')),
      source: '/tenantbackup.io/metering',
      type: 'io.tenantbackup.usage.hour.v1',
      subject: 'acme',
      time: '2026-11-30T23:00:00.000Z',
      datacontenttype: 'application/json',
      // 1000 B × 1800 s (22:30–23:00).
      data: { tenant: 'acme', periodStart: '2026-11-30T22:00:00.000Z', periodEnd: '2026-11-30T23:00:00.000Z', storageByteSeconds: '1800000', storagePeakBytes: '1000' },
    });
    expect(event.id).toMatch(/^[0-9a-f]{32}$/);
    expect(usageEvent('beta', hour22).id).not.toBe(event.id);
  });
});

describe('ledgerData', () => {
  const opened = ledgerData(undefined, first.states[0] ?? openMonth('acme', 0), []);
  const written = ledgerData(opened, second.states[0] ?? openMonth('acme', 0), second.records.map((r) => r.record));

  it('adds the closed hour\'s record and the new state', () => {
    expect(Object.keys(written).sort()).toEqual(['hour-2026-11-30T22.json', STATE_KEY]);
    expect(stateFromJson(written[STATE_KEY] ?? '').closedUntilS).toBe(at('2026-11-30T23:00:00Z'));
    expect(recordsOf({ data: written }).map((e) => e.data.storageByteSeconds)).toEqual(['1800000']);
  });

  it('writes the same record again as it is (idempotent)', () => {
    expect(ledgerData(written, second.states[0] ?? openMonth('acme', 0), [hour22])).toEqual(written);
  });

  it('refuses to change a stored record', () => {
    const changed: HourUsage = { ...hour22, storageByteSeconds: hour22.storageByteSeconds + 1n };
    expect(() => ledgerData(written, second.states[0] ?? openMonth('acme', 0), [changed])).toThrow(/is closed and differs/);
  });

  it('refuses a new record for an hour already closed without one, and a state that reopens hours', () => {
    const late: HourUsage = { kind: 'hour', startS: at('2026-11-30T21:00:00Z'), endS: at('2026-11-30T22:00:00Z'), storageByteSeconds: 1n, storagePeakBytes: 1n };
    expect(() => ledgerData(written, second.states[0] ?? openMonth('acme', 0), [late])).toThrow(/closed without it/);
    expect(() => ledgerData(written, first.states[0] ?? openMonth('acme', 0), [])).toThrow(/reopens closed hours/);
  });

  it('refuses any write to a closed month', () => {
    const closing = advance(second.states[0] ?? openMonth('acme', 0), { atS: at('2026-12-01T00:00:00Z'), storageBytes: 0n, endpoints: [] });
    const november = closing.states[0];
    if (!november?.closed) throw new Error('November did not close');
    const closed = ledgerData(written, november, closing.records.filter((r) => r.month === '2026-11').map((r) => r.record));
    expect(recordsOf({ data: closed }).map((e) => e.type)).toEqual(['io.tenantbackup.usage.hour.v1', 'io.tenantbackup.usage.hour.v1', 'io.tenantbackup.usage.month.v1']);
    expect(() => ledgerData(closed, november, [])).toThrow(/closed: its records are final/);
  });
});
