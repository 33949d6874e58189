/**
 * Checks an upload as it streams through, before anything reaches the disk: it never exceeds its
 * declared Content-Length, it stays within its quota reservation (growing it in the space's shared
 * ledger when no length was declared, and failing with QuotaExceededError the moment it cannot), and — restic names every
 * object by the SHA-256 of its content — its content matches its name. A failed check throws, the
 * object store then discards the temporary file, and nothing becomes visible.
 */
import { createHash, type Hash } from 'node:crypto';
import { QuotaExceededError, type Reservation } from './quota.ts';

/** The body does not match what the request promised (length or content hash). */
export class UploadMismatchError extends Error {
  override readonly name = 'UploadMismatchError';
}

export interface UploadCheckOptions {
  /** Content-Length of the request, or null when it was not declared (chunked). */
  declaredLength: number | null;
  reservation: Reservation;
  /** Lowercase hex SHA-256 the content must have, or null (the repository config has no such name). */
  expectedSha256: string | null;
}

export class UploadChecker {
  readonly #options: UploadCheckOptions;
  readonly #hash: Hash | null;
  #seen = 0;

  constructor(options: UploadCheckOptions) {
    this.#options = options;
    this.#hash = options.expectedSha256 === null ? null : createHash('sha256');
  }

  /** Bytes accepted so far. */
  get bytesSeen(): number {
    return this.#seen;
  }

  /** The upload's share of the space quota (the object store commits it once the object is stored). */
  get reservation(): Reservation {
    return this.#options.reservation;
  }

  /**
   * Checks the next piece of the body; throws UploadMismatchError or QuotaExceededError. Returns null
   * when the piece is accepted at once, or a promise when the reservation had to grow first (rejecting
   * with QuotaExceededError when the quota forbids it); wait for it before the next piece.
   */
  accept(data: Uint8Array): Promise<void> | null {
    this.#seen += data.length;
    const { declaredLength, reservation } = this.#options;
    if (declaredLength !== null && this.#seen > declaredLength) throw new UploadMismatchError('request body is longer than its Content-Length');
    const ensured = reservation.ensure(this.#seen);
    if (ensured === true) {
      this.#hash?.update(data);
      return null;
    }
    return ensured.then((granted) => {
      if (!granted) throw new QuotaExceededError();
      this.#hash?.update(data);
    });
  }

  /** Checks the complete body; throws UploadMismatchError. */
  finish(): void {
    const { declaredLength, expectedSha256 } = this.#options;
    if (declaredLength !== null && this.#seen !== declaredLength) throw new UploadMismatchError('request body is shorter than its Content-Length');
    if (this.#hash !== null && this.#hash.digest('hex') !== expectedSha256) throw new UploadMismatchError('content does not match its name (SHA-256)');
  }
}
