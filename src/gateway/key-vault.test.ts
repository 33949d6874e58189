import { describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, WrongPasswordError, generateDataKey, keyIdOf, sealWithPassword } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { KeyVault, UnsealAttempts, UnsealThrottledError } from './key-vault.ts';

const PASSWORD = 'the customer password, long enough';

async function customerAccess(): Promise<{ access: GatewayAccessConfig; key: Buffer }> {
  const key = generateDataKey();
  const uid = 'uid-1';
  const record = await sealWithPassword(key, PASSWORD, uid, TEST_SCRYPT_PARAMS);
  const access = {
    version: 1,
    space: { namespace: 'tenant-acme', name: 'vault', uid, quotaBytes: 1, appendOnly: false, encryptAtRest: true, keyCustody: { mode: 'customer', keyId: keyIdOf(key), record } },
    endpoints: [],
    humans: { policy: 'one-factor', users: [] },
    reportTokenHash: 'x',
  } satisfies GatewayAccessConfig;
  return { access, key };
}

describe('unseal attempts', () => {
  it('lets a few wrong passwords through, then makes each further one wait, doubling, until a right one', () => {
    let now = 0;
    const attempts = new UnsealAttempts(() => now);
    for (let i = 0; i < UnsealAttempts.FREE_FAILURES; i++) {
      attempts.check();
      attempts.failed();
    }
    attempts.check();
    attempts.failed();
    expect(() => attempts.check()).toThrow(UnsealThrottledError);
    now += 1000;
    attempts.check();
    attempts.failed();
    now += 1000;
    expect(() => attempts.check()).toThrow(/try again in 1 s/);
    now += 1000;
    attempts.check();
    attempts.succeeded();
    attempts.failed();
    attempts.check();
  });

  it('never waits longer than the maximum', () => {
    let now = 0;
    const attempts = new UnsealAttempts(() => now);
    for (let i = 0; i < 100; i++) attempts.failed();
    now += UnsealAttempts.MAX_WAIT_MS - 1;
    expect(() => attempts.check()).toThrow(UnsealThrottledError);
    now += 1;
    attempts.check();
  });
});

describe('key vault under customer custody', () => {
  it('counts wrong passwords whichever route sends them, and refuses even the right one while throttled', async () => {
    const { access } = await customerAccess();
    const vault = new KeyVault(new UnsealAttempts(() => 0));
    vault.configure(access, null);
    for (let i = 0; i <= UnsealAttempts.FREE_FAILURES; i++) await expect(vault.unseal(access, `wrong ${i}`)).rejects.toThrow(WrongPasswordError);
    await expect(vault.unseal(access, PASSWORD)).rejects.toThrow(UnsealThrottledError);
    expect(vault.state).toBe('sealed');
  });

  it('takes guesses sent all at once one after the other, so the bound holds for them too', async () => {
    const { access } = await customerAccess();
    const vault = new KeyVault(new UnsealAttempts(() => 0));
    vault.configure(access, null);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => vault.unseal(access, `wrong ${i}`)));
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : 'fulfilled'));
    expect(reasons.filter((n) => n === 'WrongPasswordError')).toHaveLength(UnsealAttempts.FREE_FAILURES + 1);
    expect(reasons.filter((n) => n === 'UnsealThrottledError')).toHaveLength(20 - UnsealAttempts.FREE_FAILURES - 1);
  });

  it('when unsealed, checks a password again without replacing the key', async () => {
    const { access, key } = await customerAccess();
    const vault = new KeyVault();
    vault.configure(access, null);
    await vault.unseal(access, PASSWORD);
    const held = vault.dataKey;
    expect(held?.equals(key)).toBe(true);
    await expect(vault.unseal(access, 'wrong')).rejects.toThrow(WrongPasswordError);
    await vault.unseal(access, PASSWORD);
    expect(vault.dataKey).toBe(held);
    expect(vault.state).toBe('ready');
  });
});
