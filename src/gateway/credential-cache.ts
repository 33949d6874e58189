/**
 * Verifies presented secrets (endpoint credentials, the maintenance credential, the report token)
 * against their slow scrypt hashes, without paying for scrypt on every request.
 *
 * restic sends hundreds of requests per backup, each with the same Basic credentials; one scrypt
 * verification costs ~0.1 s of CPU. Successful verifications are therefore remembered, keyed by
 * HMAC-SHA256 under a per-process random key of (realm, user, stored hash, presented secret): the
 * cache holds no secret and nothing an attacker could test guesses against offline, a changed hash
 * misses by construction, and the whole cache is dropped when the configuration is reloaded. Failures
 * are never cached. Concurrent checks of the same secret share one scrypt run, and scrypt runs are
 * bounded so a flood of wrong guesses cannot starve the thread pool that also does file I/O; past a
 * bounded queue, checks fail fast with VerifierBusyError (already verified secrets are unaffected).
 *
 * Unknown users are checked against a decoy hash, so that "no such user" takes as long as "wrong
 * secret" and the response time does not reveal which endpoint names exist.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { hashSecret, verifySecret } from '../crypto/index.ts';

const MAX_CACHED = 10_000;
const MAX_CONCURRENT_VERIFICATIONS = 2;
/** Verifications allowed to wait; beyond that new ones are turned away rather than queued forever. */
const MAX_WAITING_VERIFICATIONS = 64;

/** Too many verifications are queued (a flood of guesses); the caller should answer 503 and let the client retry. */
export class VerifierBusyError extends Error {
  override readonly name = 'VerifierBusyError';
  constructor() {
    super('too many credential checks in progress; retry shortly');
  }
}

export type SecretVerifier = (secret: string, encodedHash: string) => Promise<boolean>;

export class CredentialCache {
  readonly #cacheKey = randomBytes(32);
  readonly #verified = new Set<string>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  readonly #verify: SecretVerifier;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #decoyHash: Promise<string> | null = null;

  constructor(verify: SecretVerifier = verifySecret) {
    this.#verify = verify;
  }

  /**
   * True when `secret` matches `encodedHash`; with `encodedHash` null (no such user) runs a decoy
   * verification and returns false. A malformed stored hash counts as a mismatch (and is the
   * configuration's fault, which the loader reports). Throws VerifierBusyError under a flood.
   */
  async check(realm: string, user: string, secret: string, encodedHash: string | null): Promise<boolean> {
    if (encodedHash === null) {
      await this.#bounded(async () => this.#verify(secret, await this.#decoy()).catch(() => false));
      return false;
    }
    const key = createHmac('sha256', this.#cacheKey).update(JSON.stringify([realm, user, encodedHash, secret])).digest('base64');
    if (this.#verified.has(key)) return true;
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#bounded(() => this.#verify(secret, encodedHash).catch(() => false)).then((ok) => {
        if (ok) {
          if (this.#verified.size >= MAX_CACHED) this.#verified.clear();
          this.#verified.add(key);
        }
        return ok;
      });
      pending.finally(() => this.#inFlight.delete(key)).catch(() => undefined);
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** Forgets every cached success (configuration reloaded: hashes or users may have changed). */
  clear(): void {
    this.#verified.clear();
  }

  #decoy(): Promise<string> {
    this.#decoyHash ??= hashSecret(randomBytes(32).toString('base64url'));
    return this.#decoyHash;
  }

  async #bounded<T>(task: () => Promise<T>): Promise<T> {
    while (this.#running >= MAX_CONCURRENT_VERIFICATIONS) {
      if (this.#waiting.length >= MAX_WAITING_VERIFICATIONS) throw new VerifierBusyError();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running += 1;
    try {
      return await task();
    } finally {
      this.#running -= 1;
      this.#waiting.shift()?.();
    }
  }
}
