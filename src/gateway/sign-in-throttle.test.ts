import { describe, expect, it } from 'vitest';
import { SignInThrottle } from './sign-in-throttle.ts';

describe('SignInThrottle', () => {
  it('allows the free failures, then locks for doubling times up to the ceiling', () => {
    const throttle = new SignInThrottle({ userAllowance: 2, baseLockMs: 1000, maxLockMs: 4000 });
    let now = 0;
    const lockAfterFailure = () => {
      throttle.failed('u', undefined, now);
      const verdict = throttle.check('u', undefined, now);
      return verdict.allowed ? 0 : verdict.retryAfterMs;
    };
    expect([lockAfterFailure(), lockAfterFailure()]).toEqual([0, 0]);
    const locks = [];
    for (let i = 0; i < 4; i++) {
      const lock = lockAfterFailure();
      locks.push(lock);
      now += lock;
    }
    expect(locks).toEqual([1000, 2000, 4000, 4000]);
  });

  it('forgets a key after a quiet period, and clears a user on success', () => {
    const throttle = new SignInThrottle({ userAllowance: 1, baseLockMs: 1000, forgetAfterMs: 10_000 });
    throttle.failed('u', undefined, 0);
    throttle.failed('u', undefined, 0);
    expect(throttle.check('u', undefined, 500).allowed).toBe(false);
    // Long after: the count starts over (one free failure again).
    throttle.failed('u', undefined, 20_000);
    expect(throttle.check('u', undefined, 20_000).allowed).toBe(true);
    throttle.failed('u', undefined, 20_000);
    expect(throttle.check('u', undefined, 20_000).allowed).toBe(false);
    throttle.succeeded('u');
    expect(throttle.check('u', undefined, 20_000).allowed).toBe(true);
  });

  it('keeps at most maxKeys keys, dropping the oldest, so a flood of names cannot exhaust memory', () => {
    const throttle = new SignInThrottle({ userAllowance: 0, clientAllowance: 1000, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) throttle.failed(`name-${i}`, undefined, 0);
    expect(throttle.check('name-999', undefined, 0).allowed).toBe(false);
    expect(throttle.check('name-0', undefined, 0).allowed).toBe(true);
  });
});
