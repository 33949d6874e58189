/**
 * Bounds guessing on the human sign-in (RFC 6238 §5.2: "the validation system SHOULD limit the
 * number of attempts … a lockout or a delay"). After one correct password the password check is
 * cached, so without a bound each further guess of a six-digit code costs the attacker one request.
 *
 * Failures are counted per user name (known or not, so a lockout does not tell which names exist)
 * and per client address. Past a free allowance each further failure locks the key for twice as
 * long as the last, up to a ceiling; while locked, every attempt is refused before any check — a
 * correct password and code included. A success clears the user's count; counts are forgotten after
 * a quiet period. The state is this process's: with several gateway replicas each keeps its own, so
 * the bound is per replica (sharing it is left for later).
 */

export interface ThrottlePolicy {
  /** Failures allowed before the first lock, per user. */
  userAllowance: number;
  /** Failures allowed before the first lock, per client address (several people may share one). */
  clientAllowance: number;
  /** The first lock; each further failure doubles it. */
  baseLockMs: number;
  maxLockMs: number;
  /** A key whose last failure is older than this starts over. */
  forgetAfterMs: number;
  /** Keys kept at most; the oldest are dropped first (a flood of names cannot exhaust memory). */
  maxKeys: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  userAllowance: 5,
  clientAllowance: 20,
  baseLockMs: 30_000,
  maxLockMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxKeys: 10_000,
};

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export class SignInThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #policy: ThrottlePolicy;

  constructor(policy: Partial<ThrottlePolicy> = {}) {
    this.#policy = { ...DEFAULT_THROTTLE_POLICY, ...policy };
  }

  /** Whether an attempt by this user from this client may be checked at all now. */
  check(user: string, client: string | undefined, now = Date.now()): ThrottleVerdict {
    let until = 0;
    for (const key of this.#keys(user, client)) until = Math.max(until, this.#current(key, now)?.lockedUntil ?? 0);
    return until > now ? { allowed: false, retryAfterMs: until - now } : { allowed: true };
  }

  failed(user: string, client: string | undefined, now = Date.now()): void {
    const [userKey, clientKey] = this.#keys(user, client);
    this.#fail(userKey as string, this.#policy.userAllowance, now);
    if (clientKey !== undefined) this.#fail(clientKey, this.#policy.clientAllowance, now);
  }

  succeeded(user: string): void {
    this.#entries.delete(userKey(user));
  }

  #keys(user: string, client: string | undefined): string[] {
    return client === undefined ? [userKey(user)] : [userKey(user), `client:${client}`];
  }

  #current(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && now - entry.lastFailureAt > this.#policy.forgetAfterMs && entry.lockedUntil <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #fail(key: string, allowance: number, now: number): void {
    const entry = this.#current(key, now) ?? { failures: 0, lastFailureAt: now, lockedUntil: 0 };
    entry.failures += 1;
    entry.lastFailureAt = now;
    const over = entry.failures - allowance;
    if (over > 0) {
      const lock = Math.min(this.#policy.maxLockMs, this.#policy.baseLockMs * 2 ** Math.min(over - 1, 30));
      entry.lockedUntil = Math.max(entry.lockedUntil, now + lock);
    }
    // Re-inserted at the end: the map's order is the order of last failure, oldest first.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#policy.maxKeys) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

const userKey = (user: string): string => `user:${user}`;
