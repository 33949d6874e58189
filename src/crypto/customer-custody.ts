/**
 * Customer custody (S6, S13): the space's data key is wrapped by a key derived from a password that
 * only the customer knows. The customer supplies the password once; we keep only the record below
 * (salt, KDF parameters, a verifier and the wrapped key), never the password.
 *
 * In plain words:
 *   - If the customer loses the password, the data is unrecoverable. Nobody — not the provider, not
 *     its technicians, not us — can unwrap the key without it. There is no reset.
 *   - Deleting the record (crypto-shred) makes every copy of the ciphertext, backups of the volume
 *     included, permanently unreadable, even with the password.
 *
 * Construction: one scrypt derivation (RFC 7914; default N = 2^15, r = 8, p = 1, 32 MiB) of the
 * NFC-normalised password with a random 16-byte salt gives 64 bytes:
 *   - bytes 0..31 are the wrapping key: it wraps the data key with AES-256-GCM (wrap.ts), the
 *     caller's `aad` (the BackupSpace uid) bound as associated data;
 *   - bytes 32..63 are the verifier key, never stored; the verifier is
 *     HMAC-SHA256(verifier key, "tenantbackup.io/customer-key/verifier/v1").
 * scrypt's output is PBKDF2-HMAC-SHA256 over its mixed state, and each 32-byte half is a separate
 * HMAC block, so the two halves are independent: the verifier (a one-way function of the second half)
 * proves knowledge of the password but gives nothing towards the wrapping key. Checking a guess
 * against the verifier costs a full scrypt derivation, the same as trying to unwrap.
 *
 * openWithPassword checks the verifier first, so a wrong password is reported as WrongPasswordError
 * and never reaches the unwrap; a record whose verifier matches but whose wrapped key was altered
 * raises KeyIntegrityError.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CustomerKeyRecord } from '../gateway/access-config.ts';
import { assertKey } from './data-key.ts';
import { fromBase64Strict, toBase64 } from './encoding.ts';
import { InvalidKeyRecordError, PasswordPolicyError, ScryptParamsError, WrongPasswordError } from './errors.ts';
import { DEFAULT_SCRYPT_PARAMS, deriveScrypt, validateScryptParams, type ScryptParams } from './scrypt.ts';
import { unwrapKey, wrapKey } from './wrap.ts';

export type { CustomerKeyRecord };
export { KeyIntegrityError, PasswordPolicyError, WrongPasswordError, InvalidKeyRecordError } from './errors.ts';

/** Minimum password length, in characters (Unicode code points after NFC normalisation). */
export const MIN_PASSWORD_LENGTH = 12;
/** Maximum password length, in characters; longer input is refused rather than hashed. */
export const MAX_PASSWORD_LENGTH = 1024;
export const CUSTOMER_SALT_BYTES = 16;
const MIN_SALT_BYTES = 16;
const MAX_SALT_BYTES = 64;
const HALF = 32;
const VERIFIER_LABEL = 'tenantbackup.io/customer-key/verifier/v1';

function normalisePassword(password: unknown): string {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  return password.normalize('NFC');
}

/** Throws PasswordPolicyError naming the rule when a new customer key password is not acceptable. */
export function checkPasswordPolicy(password: string): void {
  const length = [...normalisePassword(password)].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new PasswordPolicyError(`customer key password is too short: it must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new PasswordPolicyError(`customer key password is too long: it must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

interface DerivedKeys {
  wrappingKey: Buffer;
  verifier: Buffer;
}

async function deriveKeys(password: string, salt: Uint8Array, params: ScryptParams): Promise<DerivedKeys> {
  const derived = await deriveScrypt(normalisePassword(password), salt, 2 * HALF, params);
  const wrappingKey = Buffer.from(derived.subarray(0, HALF));
  const verifier = createHmac('sha256', derived.subarray(HALF)).update(VERIFIER_LABEL, 'utf8').digest();
  derived.fill(0);
  return { wrappingKey, verifier };
}

interface ParsedRecord {
  params: ScryptParams;
  salt: Buffer;
  verifier: Buffer;
  wrappedKey: string;
}

/**
 * Checks a record read back from storage: shape, KDF name, parameter bounds (so a tampered record
 * cannot make us allocate gigabytes), salt and verifier lengths. Throws InvalidKeyRecordError naming
 * the field; values of salt, verifier and wrapped key are never echoed.
 */
export function validateCustomerKeyRecord(record: unknown): CustomerKeyRecord {
  const parsed = parseRecord(record);
  return {
    kdf: { name: 'scrypt', ...parsed.params, salt: toBase64(parsed.salt) },
    verifier: toBase64(parsed.verifier),
    wrappedKey: parsed.wrappedKey,
  };
}

function parseRecord(record: unknown): ParsedRecord {
  if (typeof record !== 'object' || record === null) throw new InvalidKeyRecordError('customer key record must be an object');
  const { kdf, verifier, wrappedKey } = record as Record<string, unknown>;
  if (typeof kdf !== 'object' || kdf === null) throw new InvalidKeyRecordError('customer key record: kdf must be an object');
  const kdfFields = kdf as Record<string, unknown>;
  if (kdfFields.name !== 'scrypt') throw new InvalidKeyRecordError('customer key record: kdf.name must be "scrypt"');
  let params: ScryptParams;
  try {
    params = validateScryptParams(kdfFields, 'customer key record kdf');
  } catch (err) {
    if (err instanceof ScryptParamsError) throw new InvalidKeyRecordError(err.message);
    throw err;
  }
  const salt = typeof kdfFields.salt === 'string' ? fromBase64Strict(kdfFields.salt) : null;
  if (salt === null || salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) {
    throw new InvalidKeyRecordError(
      `customer key record: kdf.salt must be standard base64 of ${MIN_SALT_BYTES} to ${MAX_SALT_BYTES} bytes`,
    );
  }
  const verifierBytes = typeof verifier === 'string' ? fromBase64Strict(verifier) : null;
  if (verifierBytes?.length !== HALF) {
    throw new InvalidKeyRecordError(`customer key record: verifier must be standard base64 of ${HALF} bytes`);
  }
  if (typeof wrappedKey !== 'string' || wrappedKey.length === 0) {
    throw new InvalidKeyRecordError('customer key record: wrappedKey must be a non-empty string');
  }
  return { params, salt, verifier: verifierBytes, wrappedKey };
}

/**
 * Seals a space's data key with the customer's password. Refuses passwords shorter than
 * MIN_PASSWORD_LENGTH characters (PasswordPolicyError). Each call draws a fresh salt and nonce, so
 * sealing the same key with the same password twice gives two different records.
 */
export async function sealWithPassword(
  dataKey: Uint8Array,
  password: string,
  aad: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<CustomerKeyRecord> {
  assertKey(dataKey, 'data key');
  checkPasswordPolicy(password);
  const checked = validateScryptParams(params);
  const salt = randomBytes(CUSTOMER_SALT_BYTES);
  const { wrappingKey, verifier } = await deriveKeys(password, salt, checked);
  try {
    return {
      kdf: { name: 'scrypt', ...checked, salt: toBase64(salt) },
      verifier: toBase64(verifier),
      wrappedKey: wrapKey(dataKey, wrappingKey, aad),
    };
  } finally {
    wrappingKey.fill(0);
  }
}

async function deriveAndCheck(password: string, parsed: ParsedRecord): Promise<Buffer | null> {
  const { wrappingKey, verifier } = await deriveKeys(password, parsed.salt, parsed.params);
  if (timingSafeEqual(verifier, parsed.verifier)) return wrappingKey;
  wrappingKey.fill(0);
  return null;
}

/**
 * True when `password` matches the record's verifier (constant-time comparison). Throws
 * InvalidKeyRecordError for a malformed record.
 */
export async function verifyPassword(password: string, record: CustomerKeyRecord): Promise<boolean> {
  const parsed = parseRecord(record);
  const wrappingKey = await deriveAndCheck(password, parsed);
  wrappingKey?.fill(0);
  return wrappingKey !== null;
}

/**
 * Recovers the data key. Checks the verifier first: a wrong password throws WrongPasswordError
 * without any attempt to unwrap. A matching password over an altered wrapped key, or a different
 * `aad` (the key moved to another space), throws KeyIntegrityError. A malformed record throws
 * InvalidKeyRecordError.
 */
export async function openWithPassword(password: string, record: CustomerKeyRecord, aad: string): Promise<Buffer> {
  const parsed = parseRecord(record);
  const wrappingKey = await deriveAndCheck(password, parsed);
  if (wrappingKey === null) throw new WrongPasswordError();
  try {
    return unwrapKey(parsed.wrappedKey, wrappingKey, aad);
  } finally {
    wrappingKey.fill(0);
  }
}
