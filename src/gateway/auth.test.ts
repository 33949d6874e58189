import { TOTP } from 'otpauth';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, generateTotpSecret, hashSecret } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { parseAccessConfig, type AccessConfiguration } from './config.ts';
import { CredentialCache, VerifierBusyError } from './credential-cache.ts';
import { TotpReplayGuard, signIn } from './human-auth.ts';
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
    const cache = new CredentialCache();
    expect(await cache.check('endpoint', 'nobody', 'x', null)).toBe(false);
    expect(await cache.check('endpoint', 'a', 'x', 'not-a-hash')).toBe(false);
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
    const replay = new TotpReplayGuard();
    const code = codeAt(Date.now());
    expect((await signIn(config, cache, replay, { user: 'alice', password: 'pw-alice' })).ok).toBe(false);
    expect((await signIn(config, cache, replay, { user: 'alice', password: 'pw-alice', code: code === '000000' ? '111111' : '000000' })).ok).toBe(false);
    expect((await signIn(config, cache, replay, { user: 'alice', password: 'wrong', code })).ok).toBe(false);
    expect((await signIn(config, cache, replay, { user: 'alice', password: 'pw-alice', code })).ok).toBe(true);
    // The same code cannot be used twice.
    expect((await signIn(config, cache, replay, { user: 'alice', password: 'pw-alice', code })).ok).toBe(false);
    // A user without enrolment cannot sign in under two-factor.
    expect((await signIn(config, cache, replay, { user: 'bob', password: 'pw-alice', code })).ok).toBe(false);
    expect((await signIn(config, cache, replay, { user: 'mallory', password: 'pw-alice', code })).ok).toBe(false);
  });

  it('under one-factor checks TOTP only for enrolled users; disabled lets nobody in', async () => {
    const cache = new CredentialCache();
    const replay = new TotpReplayGuard();
    const oneFactor = withPolicy('one-factor');
    expect((await signIn(oneFactor, cache, replay, { user: 'bob', password: 'pw-alice' })).ok).toBe(true);
    expect((await signIn(oneFactor, cache, replay, { user: 'alice', password: 'pw-alice' })).ok).toBe(false);
    expect((await signIn(oneFactor, cache, replay, { user: 'alice', password: 'pw-alice', code: codeAt(Date.now() - 30_000) })).ok).toBe(true);
    expect(await signIn(withPolicy('disabled'), cache, replay, { user: 'bob', password: 'pw-alice' })).toEqual({ ok: false, reason: 'disabled' });
  });
});
