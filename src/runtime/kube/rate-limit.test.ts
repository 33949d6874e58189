import { describe, expect, it } from 'vitest';
import { jitteredDelayMs, throttleDelayMs, TokenBucket } from './rate-limit.ts';

describe('TokenBucket', () => {
  it('lets a burst through, then spaces requests at the QPS', () => {
    const now = 0;
    const bucket = new TokenBucket({ qps: 5, burst: 3 }, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    // The 4th, 5th and 6th wait for tokens 200, 400 and 600 ms away, in arrival order.
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([200, 400, 600]);
  });

  it('refills over time, never past the burst', () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 10, burst: 2 }, () => now);
    bucket.reserve();
    bucket.reserve();
    expect(bucket.reserve()).toBe(100);
    now = 60_000;
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 100]);
  });

  it('is off when qps is 0, and refuses a burst below 1', () => {
    const bucket = new TokenBucket({ qps: 0, burst: 0 });
    for (let i = 0; i < 1000; i++) expect(bucket.reserve()).toBe(0);
    expect(() => new TokenBucket({ qps: 5, burst: 0 })).toThrow(/burst must be at least 1/);
  });
});

describe('throttleDelayMs', () => {
  it('retries 429 after Retry-After, one second without it, capped', () => {
    expect(throttleDelayMs(429, '3')).toBe(3000);
    expect(throttleDelayMs(429, undefined)).toBe(1000);
    expect(throttleDelayMs(429, 'Wed, 21 Oct 2026 07:28:00 GMT')).toBe(1000);
    expect(throttleDelayMs(429, '86400')).toBe(60_000);
  });

  it('retries 5xx only with Retry-After, and nothing else', () => {
    expect(throttleDelayMs(503, '2')).toBe(2000);
    expect(throttleDelayMs(503, undefined)).toBeUndefined();
    expect(throttleDelayMs(500, undefined)).toBeUndefined();
    expect(throttleDelayMs(409, '1')).toBeUndefined();
    expect(throttleDelayMs(200, '1')).toBeUndefined();
  });
});

describe('jitteredDelayMs', () => {
  it('waits the server\'s delay plus up to as much again, so a throttled burst comes back spread out', () => {
    expect(jitteredDelayMs(1000, () => 0)).toBe(1000);
    expect(jitteredDelayMs(1000, () => 0.5)).toBe(1500);
    expect(jitteredDelayMs(1000, () => 0.999)).toBe(1999);
    const waits = Array.from({ length: 30 }, () => jitteredDelayMs(1000));
    expect(new Set(waits).size).toBeGreaterThan(10);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(1000);
  });
});
