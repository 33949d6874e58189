/**
 * Slow hashes for the secrets the gateway checks — endpoint (device) credentials, human passwords,
 * the maintenance credential, the report token, activation codes — and generators for the machine
 * credentials and human-typable activation codes themselves.
 *
 * Encoding (PHC string format, as used by libsodium/passlib for scrypt):
 *
 *     $scrypt$ln=15,r=8,p=1$<salt>$<hash>
 *
 *   ln = log2(N); r, p as in RFC 7914; salt (16 bytes) and hash (32 bytes) in standard base64 without
 *   padding. Secrets are NFC-normalised before hashing (a no-op for generated credentials).
 *
 * verifySecret returns false for a wrong secret and THROWS SecretHashFormatError when the stored
 * encoding is malformed or its parameters are out of bounds. That is deliberate: a broken hash is a
 * configuration fault that should be reported, not silently look like a wrong password; either way
 * the caller grants nothing (an exception is not `true`). isSecretHash tells the two apart up front.
 *
 * Cost note for the gateway: one default verification takes ~0.1 s of CPU. Clients such as restic
 * send many requests per backup, so the gateway should cache successful verifications (e.g. keyed by
 * an HMAC of the presented credential under a per-process random key) instead of re-running scrypt on
 * every request.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { fromBase64UnpaddedStrict, toBase64Unpadded } from './encoding.ts';
import { ScryptParamsError, SecretHashFormatError } from './errors.ts';
import { DEFAULT_SCRYPT_PARAMS, deriveScrypt, validateScryptParams, type ScryptParams } from './scrypt.ts';

export { SecretHashFormatError } from './errors.ts';

export const SECRET_HASH_SALT_BYTES = 16;
export const SECRET_HASH_BYTES = 32;
const MIN_SALT_BYTES = 16;
const MAX_SALT_BYTES = 64;
const MIN_HASH_BYTES = 16;
const MAX_HASH_BYTES = 64;
const PHC = /^\$scrypt\$ln=([1-9][0-9]?),r=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export interface ParsedSecretHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/** Parses a `$scrypt$...` string; throws SecretHashFormatError naming what is wrong (never the hash). */
export function parseSecretHash(encoded: string): ParsedSecretHash {
  const match = typeof encoded === 'string' ? PHC.exec(encoded) : null;
  if (match === null) {
    throw new SecretHashFormatError('secret hash is malformed: expected "$scrypt$ln=<n>,r=<n>,p=<n>$<salt>$<hash>"');
  }
  const [, ln, r, p, saltText, hashText] = match;
  let params: ScryptParams;
  try {
    params = validateScryptParams(
      { cost: 2 ** Number(ln), blockSize: Number(r), parallelization: Number(p) },
      'secret hash parameters',
    );
  } catch (err) {
    if (err instanceof ScryptParamsError) throw new SecretHashFormatError(err.message);
    throw err;
  }
  const salt = fromBase64UnpaddedStrict(saltText ?? '');
  if (salt === null || salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) {
    throw new SecretHashFormatError(`secret hash salt must be unpadded base64 of ${MIN_SALT_BYTES} to ${MAX_SALT_BYTES} bytes`);
  }
  const hash = fromBase64UnpaddedStrict(hashText ?? '');
  if (hash === null || hash.length < MIN_HASH_BYTES || hash.length > MAX_HASH_BYTES) {
    throw new SecretHashFormatError(`secret hash value must be unpadded base64 of ${MIN_HASH_BYTES} to ${MAX_HASH_BYTES} bytes`);
  }
  return { params, salt, hash };
}

/** True when `encoded` is a well-formed hash within bounds. */
export function isSecretHash(encoded: string): boolean {
  try {
    parseSecretHash(encoded);
    return true;
  } catch (err) {
    if (err instanceof SecretHashFormatError) return false;
    throw err;
  }
}

function checkSecret(secret: unknown): string {
  if (typeof secret !== 'string') throw new TypeError('secret must be a string');
  return secret.normalize('NFC');
}

/** Hashes a secret with a fresh salt. Default parameters: N = 2^15 (ln=15), r = 8, p = 1. */
export async function hashSecret(secret: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const normalised = checkSecret(secret);
  if (normalised.length === 0) throw new TypeError('secret to hash must not be empty');
  const checked = validateScryptParams(params);
  const salt = randomBytes(SECRET_HASH_SALT_BYTES);
  const hash = await deriveScrypt(normalised, salt, SECRET_HASH_BYTES, checked);
  const ln = Math.log2(checked.cost);
  return `$scrypt$ln=${ln},r=${checked.blockSize},p=${checked.parallelization}$${toBase64Unpadded(salt)}$${toBase64Unpadded(hash)}`;
}

/**
 * True when `secret` matches `encoded` (constant-time comparison of the derived hash). Throws
 * SecretHashFormatError when `encoded` is malformed or out of bounds (see the module comment).
 */
export async function verifySecret(secret: string, encoded: string): Promise<boolean> {
  const { params, salt, hash } = parseSecretHash(encoded);
  const normalised = checkSecret(secret);
  const derived = await deriveScrypt(normalised, salt, hash.length, params);
  return normalised.length > 0 && timingSafeEqual(derived, hash);
}

/** Bytes of randomness in a generated credential (256 bits). */
export const CREDENTIAL_BYTES = 32;

/** A long random secret for an endpoint (256 bits, unpadded base64url, 43 characters). */
export function generateCredential(): string {
  return randomBytes(CREDENTIAL_BYTES).toString('base64url');
}

/**
 * Crockford's base32 alphabet: digits and upper-case letters without I, L, O and U, so a code read
 * aloud or from paper is hard to mistype.
 */
export const ACTIVATION_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ACTIVATION_GROUPS = 3;
const ACTIVATION_GROUP_LENGTH = 4;
/** 12 symbols × 5 bits. */
export const ACTIVATION_CODE_BITS = ACTIVATION_GROUPS * ACTIVATION_GROUP_LENGTH * 5;

/**
 * A one-time activation code such as `7K3M-Q9TX-2BWD`: 12 symbols from ACTIVATION_CODE_ALPHABET
 * (60 bits), drawn uniformly with crypto.randomInt. Store only hashSecret(code) and accept it once.
 */
export function generateActivationCode(): string {
  const groups: string[] = [];
  for (let g = 0; g < ACTIVATION_GROUPS; g++) {
    let group = '';
    for (let i = 0; i < ACTIVATION_GROUP_LENGTH; i++) group += ACTIVATION_CODE_ALPHABET[randomInt(ACTIVATION_CODE_ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}

/**
 * Canonical form of a typed activation code, to hash or compare: upper case, spaces and hyphens
 * dropped then regrouped, and Crockford's look-alikes mapped (O→0, I and L→1). Null when the input
 * cannot be a code.
 */
export function normalizeActivationCode(input: string): string | null {
  if (typeof input !== 'string') return null;
  const symbols = input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  const length = ACTIVATION_GROUPS * ACTIVATION_GROUP_LENGTH;
  if (symbols.length !== length || [...symbols].some((c) => !ACTIVATION_CODE_ALPHABET.includes(c))) return null;
  const groups: string[] = [];
  for (let g = 0; g < ACTIVATION_GROUPS; g++) groups.push(symbols.slice(g * ACTIVATION_GROUP_LENGTH, (g + 1) * ACTIVATION_GROUP_LENGTH));
  return groups.join('-');
}
