/**
 * Holds the space's data key in memory and decides whether data may be served.
 *
 *  - Provider custody: the key comes from the operator's key service (key-client.ts), or outside a
 *    cluster from a `data.key` file; it is held in memory only and must match the configured key id
 *    (a swapped key would make existing objects unreadable, so we refuse rather than write with it).
 *  - Customer custody: the gateway starts sealed. A tenant admin unseals it with the customer's
 *    password; the key is unwrapped (src/crypto openWithPassword, bound to the space uid) and lives
 *    only in this process's memory. A configuration reload that changes the key id seals it again.
 *
 * While data is unavailable the data routes answer 503 with `reason`.
 *
 * Every password check goes through here — the admin's /v1/unseal and a peer's relay alike — so one
 * bound on wrong passwords covers both (UnsealAttempts): the password is an offline-strength secret
 * and each guess must cost the guesser time, whichever route they use.
 */
import { keyIdOf, openWithPassword, KeyIntegrityError, WrongPasswordError } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';

export type VaultState = 'ready' | 'sealed' | 'key-missing' | 'key-mismatch';

export class UnsealError extends Error {
  override readonly name = 'UnsealError';
}

/** Too many wrong passwords lately: try again after `retryAfterSeconds`. */
export class UnsealThrottledError extends Error {
  override readonly name = 'UnsealThrottledError';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(`too many wrong customer key passwords: try again in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Bounds password guesses per replica: the first FREE_FAILURES wrong passwords in a row cost nothing
 * more than the KDF; each one after that doubles a wait before the next attempt (up to MAX_WAIT_MS).
 * A right password clears the count. Per process, like the rest of the vault: N replicas allow N
 * times the rate, which the exponential wait keeps negligible.
 */
export class UnsealAttempts {
  static readonly FREE_FAILURES = 3;
  static readonly MAX_WAIT_MS = 5 * 60_000;
  #failures = 0;
  #notBefore = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Throws UnsealThrottledError while a wait is running. */
  check(): void {
    const wait = this.#notBefore - this.#now();
    if (wait > 0) throw new UnsealThrottledError(Math.ceil(wait / 1000));
  }

  failed(): void {
    this.#failures += 1;
    const excess = this.#failures - UnsealAttempts.FREE_FAILURES;
    if (excess > 0) this.#notBefore = this.#now() + Math.min(UnsealAttempts.MAX_WAIT_MS, 1000 * 2 ** (excess - 1));
  }

  succeeded(): void {
    this.#failures = 0;
    this.#notBefore = 0;
  }
}

export class KeyVault {
  readonly attempts: UnsealAttempts;
  #key: Buffer | null = null;
  #keyId: string | null = null;
  #state: VaultState = 'sealed';
  #reason = 'the gateway is sealed';
  #turn: Promise<void> = Promise.resolve();

  constructor(attempts = new UnsealAttempts()) {
    this.attempts = attempts;
  }

  get state(): VaultState {
    return this.#state;
  }

  /** True when data routes may be served. */
  get dataAvailable(): boolean {
    return this.#state === 'ready';
  }

  /** Why data is unavailable (safe to show to clients). */
  get reason(): string {
    return this.#reason;
  }

  get sealed(): boolean {
    return this.#state === 'sealed';
  }

  /** The data key, or null when none is loaded. */
  get dataKey(): Buffer | null {
    return this.#key;
  }

  /** Applies a (re)loaded configuration and, under provider custody, the key (fetched or from data.key). */
  configure(access: GatewayAccessConfig, providerKey: Buffer | null): void {
    const custody = access.space.keyCustody;
    if (custody.mode === 'customer') {
      if (this.#key !== null && this.#keyId === custody.keyId) return; // still unsealed with the same key
      this.#set(null, null, 'sealed', custody.record === undefined
        ? 'the gateway is sealed: no space password is set yet; a tenant admin sets it (POST /v1/password)'
        : 'the gateway is sealed: a tenant admin must unseal it with the customer key password (POST /v1/unseal)');
      return;
    }
    if (providerKey === null) {
      this.#set(null, null, access.space.encryptAtRest ? 'key-missing' : 'ready', 'the space data key is not available yet (it comes from the operator at start)');
      return;
    }
    if (keyIdOf(providerKey) !== custody.keyId) {
      this.#set(null, null, 'key-mismatch', 'the space data key does not match the configured key id');
      return;
    }
    this.#set(providerKey, custody.keyId, 'ready', '');
  }

  /**
   * Unseals with the customer's password; when already unsealed with this key, only checks the
   * password (a replica relays a password only after checking it itself). Throws WrongPasswordError
   * (from src/crypto) for a wrong password, UnsealThrottledError after too many of them,
   * UnsealError when the gateway is not under customer custody or the key does not match.
   */
  async unseal(access: GatewayAccessConfig, password: string): Promise<void> {
    // One check at a time: guesses sent all at once would otherwise all pass the bound before the
    // first of them had failed.
    const previous = this.#turn;
    let release = (): void => undefined;
    this.#turn = new Promise<void>((done) => (release = done));
    try {
      await previous;
      await this.#unsealNow(access, password);
    } finally {
      release();
    }
  }

  async #unsealNow(access: GatewayAccessConfig, password: string): Promise<void> {
    const custody = access.space.keyCustody;
    if (custody.mode !== 'customer') throw new UnsealError('the space is not under customer key custody');
    if (custody.record === undefined || custody.keyId === undefined) throw new UnsealError('no space password is set yet: a tenant admin sets it first (POST /v1/password)');
    this.attempts.check();
    let key: Buffer;
    try {
      key = await openWithPassword(password, custody.record, access.space.uid);
    } catch (error) {
      if (error instanceof WrongPasswordError) this.attempts.failed();
      if (error instanceof KeyIntegrityError) throw new UnsealError('the wrapped data key failed its integrity check');
      throw error;
    }
    this.attempts.succeeded();
    if (keyIdOf(key) !== custody.keyId) {
      key.fill(0);
      throw new UnsealError('the unwrapped data key does not match the configured key id');
    }
    if (this.#key !== null && this.#keyId === custody.keyId) {
      key.fill(0);
      return;
    }
    this.#set(key, custody.keyId, 'ready', '');
  }

  #set(key: Buffer | null, keyId: string | null, state: VaultState, reason: string): void {
    if (this.#key !== null && this.#key !== key) this.#key.fill(0);
    this.#key = key;
    this.#keyId = keyId;
    this.#state = state;
    this.#reason = reason;
  }
}
