/**
 * The one TLS policy of every server this project runs (gateway, admission webhook, probes and
 * metrics), so that S2's "most secure standards" is decided in one place: TLS 1.2 with ECDHE key
 * exchange and AEAD ciphers only (AES-GCM, ChaCha20-Poly1305) — no CBC (LUCKY13), no static RSA, no
 * ARIA or CCM — and TLS 1.3 with its standard suites, all of which are AEAD.
 */
import type { SecureContextOptions } from 'node:tls';

/** TLS 1.2 suites, strongest first; RSA variants for operators who supply their own RSA certificates. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
] as const;

/** TLS 1.3 suites as OpenSSL enables them by default; listing none would disable TLS 1.3 in Node. */
export const TLS13_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'] as const;

export const TLS_MIN_VERSION = 'TLSv1.2';

/**
 * Options for a server's secure context (createServer and every setSecureContext, which replaces
 * the whole context: a reload without them would fall back to Node's default list).
 */
export function serverTlsOptions(material: { cert: string | Buffer; key: string | Buffer }): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: TLS_MIN_VERSION,
    ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
  };
}
