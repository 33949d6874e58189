/**
 * A device's enrolment (S3: "a download link and an activation code"): the endpoint's credential,
 * sealed under a key derived from its one-time activation code, so that the gateway — which holds
 * only a slow hash of the credential — can hand the credential to whoever shows the code, and to
 * nobody else, without ever holding it in the clear between enrolments.
 *
 * Construction: scrypt (RFC 7914) of the normalised code (normalizeActivationCode) with a random
 * 16-byte salt gives a 32-byte key that wraps the credential's 32 bytes with AES-256-GCM (wrap.ts),
 * bound to `aad` (the endpoint's namespace and name): a seal copied to another endpoint does not
 * open. A wrong code fails GCM's tag, so the seal is its own verifier. 60 bits of code behind a
 * scrypt derivation per guess are far out of reach offline, and online guesses are bounded by the
 * gateway's throttle; the code is good once and only until it expires, which the gateway enforces.
 */
import { randomBytes } from 'node:crypto';
import type { EnrolmentSeal } from '../gateway/access-config.ts';
import { CREDENTIAL_BYTES, normalizeActivationCode } from './secret-hash.ts';
import { fromBase64Strict, fromBase64UrlStrict, toBase64, toBase64Url } from './encoding.ts';
import { InvalidKeyRecordError, KeyIntegrityError, ScryptParamsError } from './errors.ts';
import { DEFAULT_SCRYPT_PARAMS, deriveScrypt, validateScryptParams, type ScryptParams } from './scrypt.ts';
import { unwrapKey, wrapKey } from './wrap.ts';

export type { EnrolmentSeal };

const SALT_BYTES = 16;
const LABEL = 'tenantbackup.io/enrolment/v1\n';

async function codeKey(code: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer | null> {
  const normalised = normalizeActivationCode(code);
  return normalised === null ? null : deriveScrypt(normalised, salt, 32, params);
}

/** Seals a generated endpoint credential (CREDENTIAL_BYTES, base64url) under an activation code. */
export async function sealEnrolment(credential: string, code: string, aad: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<EnrolmentSeal> {
  const secret = fromBase64UrlStrict(credential);
  if (secret?.length !== CREDENTIAL_BYTES) throw new TypeError(`an enrolment seals a generated credential: ${CREDENTIAL_BYTES} bytes of base64url`);
  const checked = validateScryptParams(params);
  const salt = randomBytes(SALT_BYTES);
  const key = await codeKey(code, salt, checked);
  if (key === null) throw new TypeError('the activation code is not a well-formed code');
  try {
    return { kdf: { name: 'scrypt', ...checked, salt: toBase64(salt) }, wrappedCredential: wrapKey(secret, key, LABEL + aad) };
  } finally {
    key.fill(0);
    secret.fill(0);
  }
}

/**
 * Checks a seal read from the access configuration: shape, KDF name and bounds (a tampered seal
 * cannot make the gateway allocate gigabytes), salt length. Throws InvalidKeyRecordError naming the
 * field; salt and wrapped credential are never echoed.
 */
export function validateEnrolmentSeal(value: unknown): EnrolmentSeal {
  if (typeof value !== 'object' || value === null) throw new InvalidKeyRecordError('enrolment seal must be an object');
  const { kdf, wrappedCredential } = value as Record<string, unknown>;
  if (typeof kdf !== 'object' || kdf === null || (kdf as Record<string, unknown>).name !== 'scrypt') throw new InvalidKeyRecordError('enrolment seal: kdf.name must be "scrypt"');
  let params: ScryptParams;
  try {
    params = validateScryptParams(kdf, 'enrolment seal kdf');
  } catch (error) {
    if (error instanceof ScryptParamsError) throw new InvalidKeyRecordError(error.message);
    throw error;
  }
  const saltText = (kdf as Record<string, unknown>).salt;
  const salt = typeof saltText === 'string' ? fromBase64Strict(saltText) : null;
  if (salt?.length !== SALT_BYTES) throw new InvalidKeyRecordError(`enrolment seal: kdf.salt must be standard base64 of ${SALT_BYTES} bytes`);
  if (typeof wrappedCredential !== 'string' || wrappedCredential.length === 0) throw new InvalidKeyRecordError('enrolment seal: wrappedCredential must be a non-empty string');
  return { kdf: { name: 'scrypt', ...params, salt: saltText as string }, wrappedCredential };
}

/**
 * The credential, when `code` is the seal's activation code; null for any other code (malformed
 * ones included, which cost no derivation). A malformed seal throws InvalidKeyRecordError.
 */
export async function openEnrolment(seal: EnrolmentSeal, code: string, aad: string): Promise<string | null> {
  const checked = validateEnrolmentSeal(seal);
  const key = await codeKey(code, fromBase64Strict(checked.kdf.salt) ?? Buffer.alloc(0), checked.kdf);
  if (key === null) return null;
  try {
    const secret = unwrapKey(checked.wrappedCredential, key, LABEL + aad);
    const credential = toBase64Url(secret);
    secret.fill(0);
    return credential;
  } catch (error) {
    if (error instanceof KeyIntegrityError) return null;
    throw error;
  } finally {
    key.fill(0);
  }
}
