import { createHmac, scryptSync } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { CustomerKeyRecord } from '../gateway/access-config.ts';
import {
  CUSTOMER_SALT_BYTES,
  InvalidKeyRecordError,
  KeyIntegrityError,
  MIN_PASSWORD_LENGTH,
  PasswordPolicyError,
  WrongPasswordError,
  checkPasswordPolicy,
  openWithPassword,
  sealWithPassword,
  validateCustomerKeyRecord,
  verifyPassword,
} from './customer-custody.ts';
import { generateDataKey } from './data-key.ts';
import { DEFAULT_SCRYPT_PARAMS, TEST_SCRYPT_PARAMS } from './scrypt.ts';
import * as wrap from './wrap.ts';
import type * as WrapModule from './wrap.ts';

// Pass-through spy on unwrapKey, to prove which code paths reach the unwrap.
vi.mock('./wrap.ts', async (importOriginal) => {
  const original = await importOriginal<typeof WrapModule>();
  return { ...original, unwrapKey: vi.fn(original.unwrapKey) };
});
const unwrapSpy = vi.mocked(wrap.unwrapKey);

const PASSWORD = 'correct horse battery staple';
const AAD = '9a1f2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const P = TEST_SCRYPT_PARAMS;

function clone(record: CustomerKeyRecord): CustomerKeyRecord {
  return structuredClone(record);
}

beforeEach(() => {
  unwrapSpy.mockClear();
});

describe('sealWithPassword / openWithPassword', () => {
  it('round-trips the data key and the record has exactly the access-config shape', async () => {
    const dataKey = generateDataKey();
    const record = await sealWithPassword(dataKey, PASSWORD, AAD, P);
    expect(Object.keys(record).sort()).toEqual(['kdf', 'verifier', 'wrappedKey']);
    expect(Object.keys(record.kdf).sort()).toEqual(['blockSize', 'cost', 'name', 'parallelization', 'salt']);
    expect(record.kdf).toMatchObject({ name: 'scrypt', cost: 1024, blockSize: 8, parallelization: 1 });
    expect(Buffer.from(record.kdf.salt, 'base64')).toHaveLength(CUSTOMER_SALT_BYTES);
    expect(Buffer.from(record.verifier, 'base64')).toHaveLength(32);
    expect(record.wrappedKey).toMatch(/^v1\./);
    // Survives a JSON round trip (it is stored in a Secret).
    const stored = JSON.parse(JSON.stringify(record)) as CustomerKeyRecord;
    expect(await openWithPassword(PASSWORD, stored, AAD)).toEqual(dataKey);
    expect(validateCustomerKeyRecord(stored)).toEqual(record);
  });

  it('never stores the password or the data key in the record', async () => {
    const dataKey = generateDataKey();
    const text = JSON.stringify(await sealWithPassword(dataKey, PASSWORD, AAD, P));
    expect(text).not.toContain(PASSWORD);
    for (const enc of ['base64', 'base64url', 'hex'] as const) expect(text).not.toContain(dataKey.toString(enc));
  });

  it('gives different salts, verifiers and wrapped keys for two seals of the same key and password', async () => {
    const dataKey = generateDataKey();
    const a = await sealWithPassword(dataKey, PASSWORD, AAD, P);
    const b = await sealWithPassword(dataKey, PASSWORD, AAD, P);
    expect(a.kdf.salt).not.toBe(b.kdf.salt);
    expect(a.verifier).not.toBe(b.verifier);
    expect(a.wrappedKey).not.toBe(b.wrappedKey);
    expect(await openWithPassword(PASSWORD, a, AAD)).toEqual(dataKey);
    expect(await openWithPassword(PASSWORD, b, AAD)).toEqual(dataKey);
  });

  it('refuses a wrong password with WrongPasswordError, without attempting to unwrap', async () => {
    const record = await sealWithPassword(generateDataKey(), PASSWORD, AAD, P);
    await expect(openWithPassword('correct horse battery stapler', record, AAD)).rejects.toThrow(WrongPasswordError);
    expect(unwrapSpy).not.toHaveBeenCalled();
    // Control: the right password does reach the unwrap.
    await openWithPassword(PASSWORD, record, AAD);
    expect(unwrapSpy).toHaveBeenCalledTimes(1);
  });

  it('reports a wrong password even when the wrapped key is garbage (verifier is checked first)', async () => {
    const record = clone(await sealWithPassword(generateDataKey(), PASSWORD, AAD, P));
    record.wrappedKey = `v1.${'A'.repeat(16)}.${'B'.repeat(64)}`;
    await expect(openWithPassword('not the password at all', record, AAD)).rejects.toThrow(WrongPasswordError);
    // The right password over the same garbage gets past the verifier and fails the integrity check.
    await expect(openWithPassword(PASSWORD, record, AAD)).rejects.toThrow(KeyIntegrityError);
  });

  it('detects a tampered wrapped key (KeyIntegrityError) when the password is right', async () => {
    const record = clone(await sealWithPassword(generateDataKey(), PASSWORD, AAD, P));
    const [v, nonce, body] = record.wrappedKey.split('.') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    bytes[5]! ^= 0x20;
    record.wrappedKey = `${v}.${nonce}.${bytes.toString('base64url')}`;
    await expect(openWithPassword(PASSWORD, record, AAD)).rejects.toThrow(KeyIntegrityError);
  });

  it('detects a record moved to another space (different AAD)', async () => {
    const record = await sealWithPassword(generateDataKey(), PASSWORD, AAD, P);
    await expect(openWithPassword(PASSWORD, record, 'another-space-uid')).rejects.toThrow(KeyIntegrityError);
  });

  it('detects a tampered salt or cost as a wrong password (the derivation changes)', async () => {
    const record = await sealWithPassword(generateDataKey(), PASSWORD, AAD, P);
    const salt = Buffer.from(record.kdf.salt, 'base64');
    salt[0]! ^= 1;
    const saltTampered = clone(record);
    saltTampered.kdf.salt = salt.toString('base64');
    await expect(openWithPassword(PASSWORD, saltTampered, AAD)).rejects.toThrow(WrongPasswordError);
    const costTampered = clone(record);
    costTampered.kdf.cost = 2048;
    await expect(openWithPassword(PASSWORD, costTampered, AAD)).rejects.toThrow(WrongPasswordError);
    expect(unwrapSpy).not.toHaveBeenCalled();
  });

  it('normalises the password to NFC (composed and decomposed forms are the same password)', async () => {
    const composed = 'pässwörd-für-alle';
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const dataKey = generateDataKey();
    const record = await sealWithPassword(dataKey, composed, AAD, P);
    expect(await openWithPassword(decomposed, record, AAD)).toEqual(dataKey);
  });

  it('works with the default (production) parameters', async () => {
    const dataKey = generateDataKey();
    const record = await sealWithPassword(dataKey, PASSWORD, AAD);
    expect(record.kdf).toMatchObject({ name: 'scrypt', ...DEFAULT_SCRYPT_PARAMS });
    expect(await openWithPassword(PASSWORD, record, AAD)).toEqual(dataKey);
    expect(await verifyPassword('wrong password entirely', record)).toBe(false);
  });
});

describe('the verifier is independent of the wrapping key', () => {
  it('is HMAC of the second scrypt half; the first half (and only it) unwraps', async () => {
    const dataKey = generateDataKey();
    const record = await sealWithPassword(dataKey, PASSWORD, AAD, P);
    const salt = Buffer.from(record.kdf.salt, 'base64');
    const derived = scryptSync(PASSWORD, salt, 64, { N: record.kdf.cost, r: record.kdf.blockSize, p: record.kdf.parallelization });
    const wrappingHalf = derived.subarray(0, 32);
    const verifierHalf = derived.subarray(32);
    const verifier = Buffer.from(record.verifier, 'base64');

    // The construction documented in the module.
    expect(verifier).toEqual(createHmac('sha256', verifierHalf).update('tenantbackup.io/customer-key/verifier/v1').digest());
    // The first half is the wrapping key.
    expect(wrap.unwrapKey(record.wrappedKey, wrappingHalf, AAD)).toEqual(dataKey);
    // Nothing derivable from what is stored unwraps: not the verifier, nor the verifier half.
    expect(verifier.equals(wrappingHalf)).toBe(false);
    expect(() => wrap.unwrapKey(record.wrappedKey, verifier, AAD)).toThrow(KeyIntegrityError);
    expect(() => wrap.unwrapKey(record.wrappedKey, verifierHalf, AAD)).toThrow(KeyIntegrityError);
    // And the verifier is not a hash of the wrapping key.
    expect(verifier).not.toEqual(createHmac('sha256', wrappingHalf).update('tenantbackup.io/customer-key/verifier/v1').digest());
  });
});

describe('verifyPassword', () => {
  it('accepts the right password and refuses others', async () => {
    const record = await sealWithPassword(generateDataKey(), PASSWORD, AAD, P);
    expect(await verifyPassword(PASSWORD, record)).toBe(true);
    expect(await verifyPassword(`${PASSWORD} `, record)).toBe(false);
    expect(await verifyPassword('', record)).toBe(false);
    expect(unwrapSpy).not.toHaveBeenCalled();
  });
});

describe('password policy', () => {
  it(`refuses passwords shorter than ${MIN_PASSWORD_LENGTH} characters, naming the rule`, async () => {
    await expect(sealWithPassword(generateDataKey(), 'elevenchars', AAD, P)).rejects.toThrow(PasswordPolicyError);
    await expect(sealWithPassword(generateDataKey(), 'elevenchars', AAD, P)).rejects.toThrow(/at least 12 characters/);
    await expect(sealWithPassword(generateDataKey(), 'twelve-chars', AAD, P)).resolves.toBeDefined();
  });

  it('counts characters, not UTF-16 units or bytes', () => {
    expect(() => checkPasswordPolicy('🔑'.repeat(11))).toThrow(PasswordPolicyError); // 22 UTF-16 units
    expect(() => checkPasswordPolicy('🔑'.repeat(12))).not.toThrow();
    expect(() => checkPasswordPolicy('x'.repeat(1025))).toThrow(/at most 1024/);
  });

  it('refuses a data key of the wrong size and out-of-bounds params before deriving', async () => {
    await expect(sealWithPassword(Buffer.alloc(16), PASSWORD, AAD, P)).rejects.toThrow(RangeError);
    await expect(sealWithPassword(generateDataKey(), PASSWORD, AAD, { cost: 2 ** 22, blockSize: 8, parallelization: 1 })).rejects.toThrow(
      /cost \(N\)/,
    );
  });
});

describe('records read back from storage', () => {
  async function sealed(): Promise<CustomerKeyRecord> {
    return sealWithPassword(generateDataKey(), PASSWORD, AAD, P);
  }

  it.each([
    ['huge cost', (r: CustomerKeyRecord) => void (r.kdf.cost = 2 ** 30), /cost \(N\)/],
    ['cost not a power of two', (r: CustomerKeyRecord) => void (r.kdf.cost = 1000), /power of two/],
    ['huge blockSize', (r: CustomerKeyRecord) => void (r.kdf.blockSize = 1 << 20), /blockSize/],
    ['memory over the limit', (r: CustomerKeyRecord) => void ((r.kdf.cost = 2 ** 19), (r.kdf.blockSize = 8)), /memory limit/],
    ['huge parallelization', (r: CustomerKeyRecord) => void (r.kdf.parallelization = 1000), /parallelization/],
    ['other KDF', (r: CustomerKeyRecord) => void ((r.kdf as { name: string }).name = 'pbkdf2'), /kdf.name/],
    ['short salt', (r: CustomerKeyRecord) => void (r.kdf.salt = Buffer.alloc(8).toString('base64')), /kdf.salt/],
    ['salt not base64', (r: CustomerKeyRecord) => void (r.kdf.salt = 'not base64!'), /kdf.salt/],
    ['short verifier', (r: CustomerKeyRecord) => void (r.verifier = Buffer.alloc(16).toString('base64')), /verifier/],
    ['missing wrapped key', (r: CustomerKeyRecord) => void (r.wrappedKey = ''), /wrappedKey/],
  ])('refuses a record with %s (InvalidKeyRecordError) before deriving', async (_what, mutate, message) => {
    const record = clone(await sealed());
    mutate(record);
    const started = performance.now();
    await expect(openWithPassword(PASSWORD, record, AAD)).rejects.toThrow(InvalidKeyRecordError);
    await expect(verifyPassword(PASSWORD, record)).rejects.toThrow(message);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(() => validateCustomerKeyRecord(record)).toThrow(InvalidKeyRecordError);
  });

  it('refuses non-objects', () => {
    for (const value of [null, 'record', 42, { kdf: null }]) {
      expect(() => validateCustomerKeyRecord(value)).toThrow(InvalidKeyRecordError);
    }
  });
});
