/**
 * Guessing the customer's key password through /v1/unseal (hardening item 11) goes through the same
 * bound as the sign-in (SignInThrottle): after a handful of wrong passwords the admin is locked for
 * the sign-in's lock — the right password is refused too, with Retry-After — and so is their sign-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/kube.ts';
import { GatewayFixture } from './gateway-fixture.ts';
import { DEFAULT_THROTTLE_POLICY } from '../../src/gateway/sign-in-throttle.ts';

let fixture: GatewayFixture;

beforeAll(async () => {
  fixture = await GatewayFixture.start({ endpoints: [{ name: 'desktop-01' }], custody: 'customer', humansPolicy: 'one-factor', users: [{ name: 'alice', role: 'admin' }] });
});

afterAll(async () => {
  await fixture?.close();
});

const unseal = (token: string, password: string) => fixture.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password }) });

describe('unsealing under a password-guessing attack', () => {
  it('locks the admin after a handful of wrong passwords, for the sign-in\'s lock, refusing the right password and their sign-in meanwhile', async () => {
    const token = await fixture.signIn('alice');
    let wrong = 0;
    let locked: Awaited<ReturnType<typeof unseal>> | undefined;
    // Stops at the first wrong password past the bound's allowance: without the bound it never locks.
    for (let i = 0; i < 40 && !locked && wrong <= DEFAULT_THROTTLE_POLICY.userAllowance + 1; i++) {
      const response = await unseal(token, `wrong-password-${i}`);
      if (response.status === 401) wrong++;
      else if (response.status === 429 && /too many failed attempts/.test(response.text)) locked = response;
      // The vault's own per-replica backoff answers 429 too: wait it out and guess on.
      else if (response.status === 429) await sleep(Number(response.headers['retry-after'] ?? '1') * 1000);
      else throw new Error(`unexpected answer ${response.status}: ${response.text}`);
    }
    expect(locked, 'the sign-in bound never locked the unseal').toBeDefined();
    expect(wrong).toBe(DEFAULT_THROTTLE_POLICY.userAllowance + 1);
    expect(Number(locked?.headers['retry-after'])).toBeGreaterThan(DEFAULT_THROTTLE_POLICY.baseLockMs / 1000 - 15);

    // The right password is refused unchecked while the lock lasts, and the gateway stays sealed.
    const right = await unseal(token, fixture.secrets.customerPassword);
    expect(right.status).toBe(429);
    expect((await fixture.report()).gateway.dataKeyState).toBe('sealed');
    // The same bound: the admin's sign-in is locked as well.
    const signIn = await fixture.fetch('/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: fixture.secrets.users.alice!.password }) });
    expect(signIn.status).toBe(429);
    expect(fixture.logs).toContain('unseal refused: too many failed attempts');
    expect(fixture.logs).not.toContain(fixture.secrets.customerPassword);
  }, 120_000);
});
