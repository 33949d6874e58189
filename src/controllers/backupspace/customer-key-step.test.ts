import { describe, expect, it } from 'vitest';
import { generateDataKey, keyIdOf, sealWithPassword, TEST_SCRYPT_PARAMS } from '../../crypto/index.ts';
import { judgeReportedKey } from './customer-key-step.ts';

describe('a customer key record reported by the gateway', () => {
  it('is stored when it is the space\'s first, or newer and for the same key', async () => {
    const key = generateDataKey();
    const reported = { version: 1, keyId: keyIdOf(key), record: await sealWithPassword(key, 'a password set by the customer', 'uid', TEST_SCRYPT_PARAMS) };
    expect(judgeReportedKey({ custody: 'customer', volumePassphrase: 'p' }, reported)).toEqual({ store: reported });
    const storedV1 = { custody: 'customer' as const, keyId: reported.keyId, record: reported.record, recordVersion: 1, volumePassphrase: 'p' };
    expect(judgeReportedKey(storedV1, reported)).toBeUndefined();
    expect(judgeReportedKey(storedV1, { ...reported, version: 2 })).toEqual({ store: { ...reported, version: 2 } });
    expect(judgeReportedKey(storedV1, undefined)).toBeUndefined();
  });

  it('is refused, saying why, for another key or when malformed; ignored under provider custody', async () => {
    const key = generateDataKey();
    const record = await sealWithPassword(key, 'a password set by the customer', 'uid', TEST_SCRYPT_PARAMS);
    const stored = { custody: 'customer' as const, keyId: keyIdOf(key), record, recordVersion: 1, volumePassphrase: 'p' };
    expect(judgeReportedKey(stored, { version: 2, keyId: 'k1-another', record })).toMatchObject({ refuse: expect.stringContaining('never replaces it') });
    expect(judgeReportedKey(stored, { version: 2, keyId: stored.keyId, record: { ...record, verifier: 'x' } })).toMatchObject({ refuse: expect.stringContaining('verifier') });
    expect(judgeReportedKey({ custody: 'provider', keyId: 'k1', volumePassphrase: 'p' }, { version: 2, keyId: 'k1', record })).toBeUndefined();
  });
});
