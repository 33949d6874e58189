/**
 * Two-factor authentication for humans (S12): RFC 6238 TOTP through the `otpauth` library, with the
 * parameters every authenticator app supports — HMAC-SHA1, 6 digits, 30-second steps — an otpauth://
 * URI (Google Authenticator key URI format) and its QR code as PNG for enrolment.
 *
 * Replay: a code stays valid for the whole acceptance window. verifyTotp is stateless; a caller that
 * must refuse reuse records the last accepted time step per user (totpTimeStep).
 */
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { toBuffer } from 'qrcode';
import { InvalidTotpSecretError } from './errors.ts';

export { InvalidTotpSecretError } from './errors.ts';

export const TOTP_ALGORITHM = 'SHA1';
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Generated secrets: 160 bits, as RFC 4226 recommends. */
export const TOTP_SECRET_BYTES = 20;
/** Shortest secret accepted: 128 bits (RFC 4226 §4, R6). */
const MIN_SECRET_BYTES = 16;
const MAX_WINDOW = 10;

/** A fresh 160-bit TOTP secret in base32 (32 characters, no padding). */
export function generateTotpSecret(): string {
  return new Secret({ buffer: new Uint8Array(randomBytes(TOTP_SECRET_BYTES)).buffer }).base32;
}

/** Parses a base32 secret (case, spaces and `=` padding tolerated); never echoes it in errors. */
function parseSecret(secret: string): Secret {
  const text = typeof secret === 'string' ? secret.replace(/[\s=]/g, '').toUpperCase() : '';
  if (!/^[A-Z2-7]+$/.test(text)) throw new InvalidTotpSecretError('TOTP secret must be base32 (A-Z, 2-7)');
  if (Math.floor((text.length * 5) / 8) < MIN_SECRET_BYTES) {
    throw new InvalidTotpSecretError(`TOTP secret must be at least ${MIN_SECRET_BYTES * 8} bits`);
  }
  return Secret.fromBase32(text);
}

function totpFor(secret: Secret, issuer = '', label = 'OTPAuth'): TOTP {
  return new TOTP({ issuer, label, secret, algorithm: TOTP_ALGORITHM, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS });
}

export interface TotpUriInput {
  /** Who the account is at, shown by the app (e.g. the provider's name). No colon. */
  issuer: string;
  /** The user's account name (e.g. an email address). No colon. */
  account: string;
  /** base32 secret from generateTotpSecret. */
  secret: string;
}

/** `otpauth://totp/<issuer>:<account>?issuer=…&secret=…&algorithm=SHA1&digits=6&period=30`. */
export function totpUri({ issuer, account, secret }: TotpUriInput): string {
  for (const [field, value] of [['issuer', issuer], ['account', account]] as const) {
    if (typeof value !== 'string' || value.trim().length === 0) throw new TypeError(`TOTP ${field} must be a non-empty string`);
    if (value.includes(':')) throw new TypeError(`TOTP ${field} must not contain ":" (it separates issuer and account)`);
  }
  return totpFor(parseSecret(secret), issuer, account).toString();
}

export interface VerifyTotpOptions {
  /** Current time in milliseconds since the epoch (Date.now() by default). */
  now?: number;
  /** Time steps accepted either side of the current one (default 1, i.e. ±30 s; at most 10). */
  window?: number;
}

/** The RFC 6238 time step (counter) at `now` ms. */
export function totpTimeStep(now: number = Date.now()): number {
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * True when `code` (exactly 6 ASCII digits) is the TOTP of `secret` within ±window steps of `now`.
 * Codes with anything other than 6 digits are refused (false). An invalid secret throws
 * InvalidTotpSecretError, since it is a configuration fault rather than a wrong code.
 */
export function verifyTotp(secret: string, code: string, options: VerifyTotpOptions = {}): boolean {
  const { now = Date.now(), window = 1 } = options;
  if (!Number.isFinite(now) || now < 0) throw new RangeError('TOTP "now" must be a non-negative number of milliseconds');
  if (!Number.isInteger(window) || window < 0 || window > MAX_WINDOW) {
    throw new RangeError(`TOTP window must be an integer from 0 to ${MAX_WINDOW}`);
  }
  const parsed = parseSecret(secret);
  if (typeof code !== 'string' || !/^[0-9]{6}$/.test(code)) return false;
  return totpFor(parsed).validate({ token: code, timestamp: now, window }) !== null;
}

/** The QR code of an otpauth:// URI as a PNG image, for enrolment Secrets. */
export function totpQrPng(uri: string): Promise<Buffer> {
  if (typeof uri !== 'string' || !uri.startsWith('otpauth://')) throw new TypeError('QR code input must be an otpauth:// URI');
  return toBuffer(uri, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 6 });
}
