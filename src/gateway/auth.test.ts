import { TOTP } from 'otpauth';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, generateTotpSecret, hashSecret, verifySecret } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { parseAccessConfig, type AccessConfiguration } from './config.ts';
import { CredentialCache, VerifierBusyError } from './credential-cache.ts';
import { TotpReplayGuard, signIn, type SignInGuards } from './human-auth.ts';
import { SignInThrottle } from './sign-in-throttle.ts';
import { SessionSigner } from './sessions.ts';

describe('CredentialCache', () => {
  it('runs the slow verification once per secret, never caches failures, and forgets on clear', async () => {
    const hash = await hashSecret('right', TEST_SCRYPT_PARAMS);
    let calls = 0;
    const cache = new CredentialCache(async (secret, encoded) => {
      calls += 1;
      return secret === 'right' && encoded === hash;
    });
    expect(await Promise.all([cache.check('endpoint', 'a', 'right', hash), cache.check('endpoint', 'a', 'right', hash)])).toEqual([true, true]);
    expect(calls).toBe(1);
    expect(await cache.check('endpoint', 'a', 'right', hash)).toBe(true);
    expect(calls).toBe(1);
    expect(await cache.check('endpoint', 'a', 'wrong', hash)).toBe(false);
    expect(await cache.check('endpoint', 'a', 'wrong', hash)).toBe(false);
    expect(calls).toBe(3);
    // Another stored hash (credential rotated) misses the cache.
    expect(await cache.check('endpoint', 'a', 'right', `${hash}x`)).toBe(false);
    cache.clear();
    expect(await cache.check('endpoint', 'a', 'right', hash)).toBe(true);
    expect(calls).toBe(5);
  });

  it('turns checks away, instead of queueing without bound, under a flood of guesses', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const cache = new CredentialCache(async () => {
      await gate;
      return false;
    });
    const checks = Array.from({ length: 100 }, (_, i) => cache.check('human', 'u', `guess-${i}`, 'hash').then(() => 'checked', (e: unknown) => (e instanceof VerifierBusyError ? 'busy' : 'other')));
    release();
    const results = await Promise.all(checks);
    expect(results.filter((r) => r === 'busy').length).toBeGreaterThan(0);
    expect(results.filter((r) => r === 'checked').length).toBeGreaterThanOrEqual(64);
    expect(results).not.toContain('other');
  });

  it('refuses unknown users after a decoy verification, and malformed hashes', async () => {
    // The verifier sees what the cache asks it: an unknown user must cost a real scrypt
    // verification against a real (decoy) hash, as long as a wrong password would.
    const verified: string[] = [];
    const cache = new CredentialCache(async (secret, encoded) => {
      verified.push(encoded);
      return verifySecret(secret, encoded);
    });
    expect(await cache.check('endpoint', 'nobody', 'x', null)).toBe(false);
    expect(verified).toHaveLength(1);
    expect(verified[0]).toMatch(/^\$scrypt\$ln=\d+,r=\d+,p=\d+\$/);
    // The decoy is made once and reused, so every unknown user costs the same.
    expect(await cache.check('endpoint', 'nobody-else', 'y', null)).toBe(false);
    expect(verified).toEqual([verified[0], verified[0]]);
    expect(await cache.check('endpoint', 'a', 'x', 'not-a-hash')).toBe(false);
    expect(verified).toHaveLength(3);
  });
});

describe('SessionSigner', () => {
  it('verifies its own unexpired tokens only', () => {
    const signer = new SessionSigner();
    const { token } = signer.issue('alice', 1000, 60_000);
    expect(signer.verify(token, 2000)).toBe('alice');
    expect(signer.verify(token, 61_001)).toBeNull();
    expect(new SessionSigner().verify(token, 2000)).toBeNull();
    const [body, mac] = token.split('.');
    const forged = Buffer.from(Buffer.from(body!, 'base64url').toString().replace('alice', 'admin')).toString('base64url');
    expect(signer.verify(`${forged}.${mac}`, 2000)).toBeNull();
    expect(signer.verify('garbage', 2000)).toBeNull();
  });
});

describe('signIn', () => {
  const totpSecret = generateTotpSecret();
  let config: AccessConfiguration;
  const codeAt = (ms: number): string => new TOTP({ secret: totpSecret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: ms });

  beforeAll(async () => {
    const hash = await hashSecret('pw-alice', TEST_SCRYPT_PARAMS);
    const other = await hashSecret('x', TEST_SCRYPT_PARAMS);
    const access: GatewayAccessConfig = {
      version: 1,
      space: { namespace: 'ns', name: 's', uid: 'u', quotaBytes: 1, appendOnly: false, encryptAtRest: false, keyCustody: { mode: 'provider', keyId: 'k1-0' } },
      endpoints: [],
      humans: {
        policy: 'two-factor',
        users: [
          { name: 'alice', email: 'a@x', role: 'admin', passwordHash: hash, totpSecret },
          { name: 'bob', email: 'b@x', role: 'viewer', passwordHash: hash },
        ],
      },
      reportTokenHash: other,
    };
    config = parseAccessConfig(JSON.stringify(access));
  });

  const withPolicy = (policy: 'two-factor' | 'one-factor' | 'disabled'): AccessConfiguration => ({ ...config, access: { ...config.access, humans: { ...config.access.humans, policy } } });

  it('needs password and a fresh TOTP code under two-factor', async () => {
    const cache = new CredentialCache();
    const guards: SignInGuards = { replay: new TotpReplayGuard(), throttle: new SignInThrottle() };
    const code = codeAt(Date.now());
    expect((await signIn(config, cache, guards, { user: 'alice', password: 'pw-alice' })).ok).toBe(false);
    expect((await signIn(config, cache, guards, { user: 'alice', password: 'pw-alice', code: code === '000000' ? '111111' : '000000' })).ok).toBe(false);
    expect((await signIn(config, cache, guards, { user: 'alice', password: 'wrong', code })).ok).toBe(false);
    expect((await signIn(config, cache, guards, { user: 'alice', password: 'pw-alice', code })).ok).toBe(true);
    // The same code cannot be used twice.
    expect((await signIn(config, cache, guards, { user: 'alice', password: 'pw-alice', code })).ok).toBe(false);
    // A user without enrolment cannot sign in under two-factor.
    expect((await signIn(config, cache, guards, { user: 'bob', password: 'pw-alice', code })).ok).toBe(false);
    expect((await signIn(config, cache, guards, { user: 'mallory', password: 'pw-alice', code })).ok).toBe(false);
  });

  it('under one-factor checks TOTP only for enrolled users; disabled lets nobody in', async () => {
    const cache = new CredentialCache();
    const guards: SignInGuards = { replay: new TotpReplayGuard(), throttle: new SignInThrottle() };
    const oneFactor = withPolicy('one-factor');
    expect((await signIn(oneFactor, cache, guards, { user: 'bob', password: 'pw-alice' })).ok).toBe(true);
    expect((await signIn(oneFactor, cache, guards, { user: 'alice', password: 'pw-alice' })).ok).toBe(false);
    expect((await signIn(oneFactor, cache, guards, { user: 'alice', password: 'pw-alice', code: codeAt(Date.now() - 30_000) })).ok).toBe(true);
    expect(await signIn(withPolicy('disabled'), cache, guards, { user: 'bob', password: 'pw-alice' })).toEqual({ ok: false, reason: 'disabled' });
  });

  /** Six digits that are not a valid code for alice around `ms` (±1 step). */
  const wrongCodeAt = (ms: number, i: number): string => {
    const valid = new Set([-1, 0, 1].map((step) => codeAt(ms + step * 30_000)));
    for (let n = i; ; n++) {
      const guess = String((n * 7919) % 1_000_000).padStart(6, '0');
      if (!valid.has(guess)) return guess;
    }
  };

  it('locks a user out after a few wrong codes: of a thousand guesses a handful are checked, a correct code is refused while locked, and the lock expires', async () => {
    const cache = new CredentialCache();
    const throttle = new SignInThrottle();
    const replay = new TotpReplayGuard();
    const start = Date.parse('2026-12-02T08:00:00Z');
    let now = start;
    const attempt = (code: string, user = 'alice', client = '198.51.100.7') =>
      signIn(config, cache, { replay, throttle, now }, { user, password: 'pw-alice', code, client });

    const reasons = { checked: 0, locked: 0 };
    // A thousand guesses, ten a second (after one right password the password check is cached).
    for (let i = 0; i < 1000; i++) {
      const result = await attempt(wrongCodeAt(now, i));
      expect(result.ok).toBe(false);
      if (!result.ok && result.reason === 'locked') reasons.locked += 1;
      else reasons.checked += 1;
      now += 100;
    }
    // Five free failures; the sixth locks for 30 s, the one after it for 60 s, the next for 120 s:
    // in 100 s, 8 codes were ever checked (without the bound, all 1000 would have been).
    expect(reasons).toEqual({ checked: 8, locked: 992 });

    const locked = await attempt(codeAt(now));
    expect(locked).toMatchObject({ ok: false, reason: 'locked' });
    if (locked.ok || locked.reason !== 'locked') throw new Error('expected a lock');
    // Another client gets no further with this user either.
    expect(await attempt(codeAt(now), 'alice', '203.0.113.9')).toMatchObject({ ok: false, reason: 'locked' });

    now += locked.retryAfterMs;
    expect((await attempt(codeAt(now))).ok).toBe(true);
    // The success cleared the user's count: a typo now is an ordinary refusal, not a lock.
    now += 30_000;
    expect(await attempt(wrongCodeAt(now, 1), 'alice', '203.0.113.9')).toEqual({ ok: false, reason: 'credentials' });
  });

  it('locks a client out that guesses across many user names, and not the others', async () => {
    const cache = new CredentialCache();
    const guards: SignInGuards = { replay: new TotpReplayGuard(), throttle: new SignInThrottle(), now: Date.now() };
    for (let i = 0; i < 20; i++) {
      expect(await signIn(config, cache, guards, { user: `guess-${i}`, password: 'pw-alice', code: '000000', client: '198.51.100.66' })).toEqual({ ok: false, reason: 'credentials' });
    }
    expect(await signIn(config, cache, guards, { user: 'guess-20', password: 'pw-alice', code: '000000', client: '198.51.100.66' })).toEqual({ ok: false, reason: 'credentials' });
    expect(await signIn(config, cache, guards, { user: 'alice', password: 'pw-alice', code: codeAt(guards.now ?? 0), client: '198.51.100.66' })).toMatchObject({ ok: false, reason: 'locked' });
    expect((await signIn(config, cache, guards, { user: 'alice', password: 'pw-alice', code: codeAt(guards.now ?? 0), client: '192.0.2.10' })).ok).toBe(true);
  });
});
