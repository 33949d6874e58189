import { describe, expect, it } from 'vitest';
import { QuotaLedger } from './quota.ts';

function ledger(limit: number, used: { bytes: number }): QuotaLedger {
  return new QuotaLedger({ limitBytes: () => limit, usedBytes: () => used.bytes });
}

describe('QuotaLedger', () => {
  it('refuses a declared length that does not fit, before anything is stored', () => {
    const used = { bytes: 900 };
    const quota = ledger(1000, used);
    expect(quota.reserve(101)).toBeNull();
    expect(quota.reserve(100)).not.toBeNull();
    expect(quota.availableBytes()).toBe(0);
  });

  it('counts uploads in flight against each other', () => {
    const quota = ledger(1000, { bytes: 0 });
    const first = quota.reserve(600);
    expect(quota.reserve(600)).toBeNull();
    first?.release();
    expect(quota.reserve(600)).not.toBeNull();
  });

  it('grows a streamed upload until it no longer fits, without changing anything on refusal', () => {
    const quota = ledger(1000, { bytes: 0 });
    const streamed = quota.reserve(0)!;
    expect(streamed.ensure(999)).toBe(true);
    expect(streamed.ensure(1001)).toBe(false);
    expect(streamed.bytes).toBe(999);
    streamed.release();
    streamed.release();
    expect(quota.reservedBytes).toBe(0);
  });

  it('lets exempt uploads (restic locks) through a full space, still counting them', () => {
    const quota = ledger(1000, { bytes: 1000 });
    const lock = quota.reserve(300, { exempt: true });
    expect(lock).not.toBeNull();
    expect(quota.reservedBytes).toBe(300);
    expect(quota.reserve(1)).toBeNull();
  });
});
