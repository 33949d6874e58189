/**
 * TOTP brute force against the real gateway over HTTPS (RFC 6238 §5.2): a thousand wrong codes
 * after one correct password get a handful of checks and then 429 with Retry-After; a correct code
 * is refused while the lock lasts and accepted once it has expired. The bound is per gateway
 * replica for now (its state is in the process).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/kube.ts';
import { GatewayFixture, type FetchResult } from './gateway-fixture.ts';

let fixture: GatewayFixture;

beforeAll(async () => {
  fixture = await GatewayFixture.start({ endpoints: [{ name: 'laptop-01' }], humansPolicy: 'two-factor', users: [{ name: 'alice', role: 'admin' }] });
});

afterAll(async () => {
  await fixture?.close();
});

const signIn = (code: string): Promise<FetchResult> => fixture.fetch('/v1/session', {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ user: 'alice', password: fixture.secrets.users.alice!.password, code }),
});

describe('human sign-in under a brute-force attack', () => {
  it('checks a handful of a thousand wrong codes, refuses the right one while locked, and admits it after Retry-After', async () => {
    const valid = new Set([-1, 0, 1].map((step) => fixture.totpCode('alice', step)));
    const statuses = new Map<number, number>();
    let retryAfter = 0;
    for (let i = 0; i < 1000; i++) {
      let guess = String((i * 7919 + 13) % 1_000_000).padStart(6, '0');
      if (valid.has(guess)) guess = String((Number(guess) + 1) % 1_000_000).padStart(6, '0');
      const response = await signIn(guess);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status === 429) retryAfter = Number(response.headers['retry-after']);
    }
    // Five free failures and the one that locks: 401; every other guess is turned away unchecked
    // (one or two more are checked only if the loop outlasts the 30 s and then 60 s locks).
    expect([...statuses.keys()].sort()).toEqual([401, 429]);
    expect(statuses.get(401)).toBeGreaterThanOrEqual(6);
    expect(statuses.get(401)).toBeLessThanOrEqual(8);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(30);

    const whileLocked = await signIn(fixture.totpCode('alice'));
    expect(whileLocked.status).toBe(429);
    expect(whileLocked.text).toMatch(/too many failed sign-in attempts; try again in \d+ s/);

    await sleep((Number(whileLocked.headers['retry-after']) + 1) * 1000);
    const after = await signIn(fixture.totpCode('alice'));
    expect(after.status, after.text).toBe(200);
    expect(fixture.logs).not.toContain(fixture.secrets.users.alice!.password);
  }, 120_000);
});
