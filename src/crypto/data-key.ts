/**
 * Per-space data keys: 256 random bits from the OS CSPRNG, and a key id that names a key without
 * revealing it (HMAC-SHA256 keyed by the key over a fixed label, truncated to 64 bits). The id lets the
 * operator and the gateway notice a key swap; it cannot be inverted to the key.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Length of data keys, master keys and key-encryption keys: AES-256. */
export const KEY_BYTES = 32;

const DATA_KEY_ID_LABEL = 'tenantbackup.io/key-id';

/** A fresh random 256-bit data key. */
export function generateDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Stable, non-revealing identifier of a data key: `k1-` + 16 hex digits. */
export function keyIdOf(dataKey: Uint8Array): string {
  return deriveKeyId(dataKey, 'k1-', DATA_KEY_ID_LABEL);
}

/** Throws a RangeError (naming `what`, never the bytes) unless `key` is a 32-byte key. */
export function assertKey(key: unknown, what: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new TypeError(`${what} must be a Buffer or Uint8Array`);
  if (key.byteLength !== KEY_BYTES) {
    throw new RangeError(`${what} must be exactly ${KEY_BYTES} bytes (got ${key.byteLength})`);
  }
}

/** `prefix` + first 16 hex digits of HMAC-SHA256(key, label). Shared by the key kinds. */
export function deriveKeyId(key: Uint8Array, prefix: string, label: string): string {
  assertKey(key, 'key');
  return prefix + createHmac('sha256', key).update(label, 'utf8').digest('hex').slice(0, 16);
}
