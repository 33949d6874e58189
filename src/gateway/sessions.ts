/**
 * Short-lived bearer tokens for people who signed in on the human routes, so that password and TOTP
 * are checked once per session rather than on every call.
 *
 * A token is `base64url(JSON claims) "." base64url(HMAC-SHA256(signing key, claims))`. The signing key
 * is the `session.key` file when present (so tokens work across the space's gateway replicas) or else
 * a random key of this process (tokens then only work against the replica that issued them, and die
 * with it). A token is honoured only while its user still exists in the configuration; the role is
 * taken from the current configuration, not from the token.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_TTL_MS = 15 * 60 * 1000;

interface Claims {
  v: 1;
  sub: string;
  /** Expiry, ms since the epoch. */
  exp: number;
  /** Random token id, so two tokens issued in the same millisecond differ. */
  jti: string;
}

export interface IssuedSession {
  token: string;
  expiresAt: string;
}

export class SessionSigner {
  #key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  /** Replaces the signing key (session.key changed): sessions signed with the old key end. */
  setKey(key: Buffer): void {
    this.#key = key;
  }

  issue(user: string, now = Date.now(), ttlMs = SESSION_TTL_MS): IssuedSession {
    const claims: Claims = { v: 1, sub: user, exp: now + ttlMs, jti: randomBytes(9).toString('base64url') };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${body}.${this.#sign(body)}`, expiresAt: new Date(claims.exp).toISOString() };
  }

  /** The user a valid, unexpired token was issued to; null otherwise. */
  verify(token: string, now = Date.now()): string | null {
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
    const body = token.slice(0, dot);
    const presented = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.#sign(body), 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (typeof claims !== 'object' || claims === null) return null;
    const { v, sub, exp } = claims as Partial<Claims>;
    if (v !== 1 || typeof sub !== 'string' || typeof exp !== 'number' || exp <= now) return null;
    return sub;
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(`tenantbackup.io/gateway/session/v1\0${body}`).digest('base64url');
  }
}
