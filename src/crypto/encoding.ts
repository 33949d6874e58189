/**
 * Strict base64 / base64url decoding. Buffer.from(text, 'base64') silently skips invalid characters
 * and accepts non-canonical trailing bits, so two different strings can decode to the same bytes; for
 * stored key material we accept only the one canonical encoding of each byte string.
 */

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64_UNPADDED = /^[A-Za-z0-9+/]*$/;
const BASE64_PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Decodes canonical unpadded base64url; null when the text is not exactly that. */
export function fromBase64UrlStrict(text: string): Buffer | null {
  if (!BASE64URL.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes canonical padded standard base64; null when the text is not exactly that. */
export function fromBase64Strict(text: string): Buffer | null {
  if (!BASE64_PADDED.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

/** Standard base64 without padding, as PHC strings use it. */
export function toBase64Unpadded(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, '');
}

/** Decodes canonical unpadded standard base64; null when the text is not exactly that. */
export function fromBase64UnpaddedStrict(text: string): Buffer | null {
  if (!BASE64_UNPADDED.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64');
  return toBase64Unpadded(bytes) === text ? bytes : null;
}
