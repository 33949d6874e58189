/**
 * Holds the space's data key in memory and decides whether data may be served.
 *
 *  - Provider custody: the key comes from the `data.key` file; it must match the configured key id
 *    (a swapped key would make existing objects unreadable, so we refuse rather than write with it).
 *  - Customer custody: the gateway starts sealed. A tenant admin unseals it with the customer's
 *    password; the key is unwrapped (src/crypto openWithPassword, bound to the space uid) and lives
 *    only in this process's memory. A configuration reload that changes the key id seals it again.
 *
 * While data is unavailable the data routes answer 503 with `reason`.
 */
import { keyIdOf, openWithPassword, KeyIntegrityError } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';

export type VaultState = 'ready' | 'sealed' | 'key-missing' | 'key-mismatch';

export class UnsealError extends Error {
  override readonly name = 'UnsealError';
}

export class KeyVault {
  #key: Buffer | null = null;
  #keyId: string | null = null;
  #state: VaultState = 'sealed';
  #reason = 'the gateway is sealed';

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

  /** Applies a (re)loaded configuration and, under provider custody, the data.key file. */
  configure(access: GatewayAccessConfig, providerKey: Buffer | null): void {
    const custody = access.space.keyCustody;
    if (custody.mode === 'customer') {
      if (this.#key !== null && this.#keyId === custody.keyId) return; // still unsealed with the same key
      this.#set(null, null, 'sealed', 'the gateway is sealed: a tenant admin must unseal it with the customer key password (POST /v1/unseal)');
      return;
    }
    if (providerKey === null) {
      this.#set(null, null, access.space.encryptAtRest ? 'key-missing' : 'ready', 'the space data key is not available (data.key missing)');
      return;
    }
    if (keyIdOf(providerKey) !== custody.keyId) {
      this.#set(null, null, 'key-mismatch', 'the space data key does not match the configured key id');
      return;
    }
    this.#set(providerKey, custody.keyId, 'ready', '');
  }

  /**
   * Unseals with the customer's password. Throws WrongPasswordError (from src/crypto) for a wrong
   * password, UnsealError when the gateway is not under customer custody or the key does not match.
   */
  async unseal(access: GatewayAccessConfig, password: string): Promise<void> {
    const custody = access.space.keyCustody;
    if (custody.mode !== 'customer') throw new UnsealError('the space is not under customer key custody');
    let key: Buffer;
    try {
      key = await openWithPassword(password, custody.record, access.space.uid);
    } catch (error) {
      if (error instanceof KeyIntegrityError) throw new UnsealError('the wrapped data key failed its integrity check');
      throw error;
    }
    if (keyIdOf(key) !== custody.keyId) {
      key.fill(0);
      throw new UnsealError('the unwrapped data key does not match the configured key id');
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
