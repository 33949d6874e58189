/**
 * Provider custody: each space's data key is wrapped by the operator's master key, which lives in a
 * Secret of the operator's namespace (or is supplied by the platform). Whoever holds the master key
 * can unwrap every provider-custody data key; deleting a space's wrapped key still crypto-shreds it.
 */
import { randomBytes } from 'node:crypto';
import { KEY_BYTES, assertKey, deriveKeyId } from './data-key.ts';
import { fromBase64Strict, toBase64 } from './encoding.ts';
import { InvalidKeyEncodingError } from './errors.ts';
import { unwrapKey, wrapKey } from './wrap.ts';

const MASTER_KEY_ID_LABEL = 'tenantbackup.io/master-key-id';

/** A fresh random 256-bit master key. */
export function generateMasterKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Stable, non-revealing identifier of a master key: `m1-` + 16 hex digits. */
export function masterKeyId(masterKey: Uint8Array): string {
  return deriveKeyId(masterKey, 'm1-', MASTER_KEY_ID_LABEL);
}

/** Wraps a space's data key under the master key, bound to `aad` (the BackupSpace uid). */
export function wrapWithMasterKey(dataKey: Uint8Array, masterKey: Uint8Array, aad: string): string {
  return wrapKey(dataKey, masterKey, aad);
}

/** Unwraps a data key wrapped by wrapWithMasterKey; KeyIntegrityError on any mismatch. */
export function unwrapWithMasterKey(wrapped: string, masterKey: Uint8Array, aad: string): Buffer {
  return unwrapKey(wrapped, masterKey, aad);
}

/** The master key as stored in a Secret: standard base64 of the 32 bytes. */
export function encodeMasterKey(masterKey: Uint8Array): string {
  assertKey(masterKey, 'master key');
  return toBase64(masterKey);
}

/**
 * Reads a master key from its Secret text (surrounding whitespace, e.g. a trailing newline from
 * `echo`, is ignored). Throws InvalidKeyEncodingError, without echoing the text, unless it is canonical
 * base64 of exactly 32 bytes.
 */
export function decodeMasterKey(text: string): Buffer {
  const bytes = typeof text === 'string' ? fromBase64Strict(text.trim()) : null;
  if (bytes?.length !== KEY_BYTES) {
    throw new InvalidKeyEncodingError(`master key must be standard base64 of exactly ${KEY_BYTES} bytes`);
  }
  return bytes;
}
