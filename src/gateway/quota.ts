/**
 * Space quota: stored bytes (plaintext, as clients see them) plus bytes of uploads in flight may never
 * exceed the space's limit. An upload reserves its declared Content-Length before a byte is stored, or
 * grows its reservation as bytes arrive when the length is not declared; the reservation is released
 * once the object is committed to the index (which then counts it) or the upload is abandoned.
 *
 * Lock files are exempt from refusal (still counted): restic needs a lock to run `check`, `forget` and
 * `prune`, which are exactly what a full space needs to recover, and locks are tiny.
 */

/** Locks larger than this are not exempt from refusal; restic's are a few hundred bytes. */
export const EXEMPT_LOCK_MAX_BYTES = 64 * 1024;

export class QuotaExceededError extends Error {
  override readonly name = 'QuotaExceededError';
  constructor() {
    super('space quota exceeded');
  }
}

export interface QuotaSource {
  /** Current limit (from the access configuration, which may be reloaded). */
  limitBytes(): number;
  /** Bytes stored now. */
  usedBytes(): number;
}

export class QuotaLedger {
  readonly #source: QuotaSource;
  #reservedBytes = 0;

  constructor(source: QuotaSource) {
    this.#source = source;
  }

  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  /** Bytes still free for new uploads. */
  availableBytes(): number {
    return Math.max(0, this.#source.limitBytes() - this.#source.usedBytes() - this.#reservedBytes);
  }

  /**
   * Reserves `bytes` (0 when the length is unknown; grow the reservation as data arrives). Returns null
   * when that would exceed the quota, unless `exempt`.
   */
  reserve(bytes: number, options: { exempt?: boolean } = {}): Reservation | null {
    const exempt = options.exempt === true;
    if (!exempt && bytes > this.availableBytes()) return null;
    this.#reservedBytes += bytes;
    return new Reservation(this, bytes, exempt);
  }

  /** @internal used by Reservation */
  adjust(delta: number, exempt: boolean): boolean {
    if (delta > 0 && !exempt && delta > this.availableBytes()) return false;
    this.#reservedBytes += delta;
    return true;
  }
}

export class Reservation {
  readonly #ledger: QuotaLedger;
  readonly #exempt: boolean;
  #bytes: number;
  #released = false;

  constructor(ledger: QuotaLedger, bytes: number, exempt: boolean) {
    this.#ledger = ledger;
    this.#bytes = bytes;
    this.#exempt = exempt;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Makes sure at least `total` bytes are reserved; false (nothing changed) if the quota forbids it. */
  ensure(total: number): boolean {
    if (this.#released) throw new Error('reservation already released');
    if (total <= this.#bytes) return true;
    if (!this.#ledger.adjust(total - this.#bytes, this.#exempt)) return false;
    this.#bytes = total;
    return true;
  }

  /** Gives the reserved bytes back; idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#ledger.adjust(-this.#bytes, true);
  }
}
