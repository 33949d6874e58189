/**
 * AES-256-GCM key wrapping with associated data.
 *
 * Wrapped-key format (version 1), a single ASCII string:
 *
 *     v1.<nonce>.<ciphertext‖tag>
 *
 *   - `v1`       format version: AES-256-GCM, 96-bit nonce, 128-bit tag, 256-bit key wrapped.
 *   - nonce      12 random bytes, fresh for every wrap; unpadded base64url (16 chars).
 *   - ciphertext the 32-byte key encrypted, followed by the 16-byte GCM tag; unpadded base64url (64 chars).
 *
 * The associated data authenticated with it is `tenantbackup.io/key-wrap/v1\n` + the caller's `aad`
 * (e.g. the BackupSpace uid), so a wrapped key moved to another space, or reinterpreted under another
 * format version, fails to unwrap. Any alteration of the string, a different AAD or a wrong
 * key-encryption key (KEK) raises KeyIntegrityError; GCM cannot tell these apart.
 *
 * Random 96-bit nonces are safe here: a KEK wraps a handful of keys in its life, far below the 2^32
 * wraps NIST SP 800-38D allows per key with random nonces.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KEY_BYTES, assertKey } from './data-key.ts';
import { fromBase64UrlStrict, toBase64Url } from './encoding.ts';
import { KeyIntegrityError } from './errors.ts';

export { KeyIntegrityError } from './errors.ts';

export const WRAP_VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const AAD_PREFIX = 'tenantbackup.io/key-wrap/v1\n';

function aadBytes(aad: string): Buffer {
  if (typeof aad !== 'string' || aad.length === 0) {
    throw new TypeError('aad must be a non-empty string binding the key to its context (e.g. the BackupSpace uid)');
  }
  return Buffer.from(AAD_PREFIX + aad, 'utf8');
}

/** Wraps a 32-byte key under a 32-byte KEK, bound to `aad`. Returns `v1.<nonce>.<ciphertext‖tag>`. */
export function wrapKey(dataKey: Uint8Array, kek: Uint8Array, aad: string): string {
  assertKey(dataKey, 'key to wrap');
  assertKey(kek, 'key-encryption key');
  const additional = aadBytes(aad);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(additional);
  const body = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return `${WRAP_VERSION}.${toBase64Url(nonce)}.${toBase64Url(body)}`;
}

/**
 * Unwraps what wrapKey produced. Throws KeyIntegrityError when the string is malformed or altered,
 * `aad` differs from the one used to wrap, or `kek` is not the key that wrapped it.
 */
export function unwrapKey(wrapped: string, kek: Uint8Array, aad: string): Buffer {
  assertKey(kek, 'key-encryption key');
  const additional = aadBytes(aad);
  if (typeof wrapped !== 'string') throw new KeyIntegrityError('malformed', 'wrapped key must be a string');
  const parts = wrapped.split('.');
  if (parts[0] !== WRAP_VERSION) {
    throw new KeyIntegrityError(
      'unsupported-version',
      `wrapped key has an unsupported format version (expected "${WRAP_VERSION}.")`,
    );
  }
  const nonce = parts.length === 3 ? fromBase64UrlStrict(parts[1] ?? '') : null;
  const body = parts.length === 3 ? fromBase64UrlStrict(parts[2] ?? '') : null;
  if (nonce?.length !== NONCE_BYTES || body?.length !== KEY_BYTES + TAG_BYTES) {
    throw new KeyIntegrityError(
      'malformed',
      `wrapped key is malformed: expected "${WRAP_VERSION}.<12-byte nonce>.<48-byte ciphertext and tag>" in unpadded base64url`,
    );
  }
  const decipher = createDecipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(additional);
  decipher.setAuthTag(body.subarray(KEY_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, KEY_BYTES)), decipher.final()]);
  } catch {
    throw new KeyIntegrityError(
      'authentication-failed',
      'wrapped key failed its integrity check: it was altered, belongs to another context (associated data), or the key-encryption key is wrong',
    );
  }
}
