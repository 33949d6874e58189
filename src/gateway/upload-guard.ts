/**
 * Checks an upload as it streams through, before anything reaches the disk: it never exceeds its
 * declared Content-Length, it stays within its quota reservation (growing it when no length was
 * declared, and failing with QuotaExceededError the moment it cannot), and — restic names every
 * object by the SHA-256 of its content — its content matches its name. A failed check fails the
 * stream, so the object store discards the temporary file and nothing becomes visible.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { QuotaExceededError, type Reservation } from './quota.ts';

/** The body does not match what the request promised (length or content hash). */
export class UploadMismatchError extends Error {
  override readonly name = 'UploadMismatchError';
}

export interface UploadGuardOptions {
  /** Content-Length of the request, or null when it was not declared (chunked). */
  declaredLength: number | null;
  reservation: Reservation;
  /** Lowercase hex SHA-256 the content must have, or null (the repository config has no such name). */
  expectedSha256: string | null;
}

export interface UploadGuard extends Transform {
  /** Bytes that passed so far. */
  readonly bytesSeen: number;
}

export function createUploadGuard(options: UploadGuardOptions): UploadGuard {
  const hash: Hash | null = options.expectedSha256 === null ? null : createHash('sha256');
  let seen = 0;
  const guard = new Transform({
    transform(data: Buffer, _encoding, callback: TransformCallback) {
      seen += data.length;
      if (options.declaredLength !== null && seen > options.declaredLength) {
        callback(new UploadMismatchError('request body is longer than its Content-Length'));
        return;
      }
      if (!options.reservation.ensure(seen)) {
        callback(new QuotaExceededError());
        return;
      }
      hash?.update(data);
      callback(null, data);
    },
    flush(callback: TransformCallback) {
      if (options.declaredLength !== null && seen !== options.declaredLength) {
        callback(new UploadMismatchError('request body is shorter than its Content-Length'));
        return;
      }
      if (hash !== null && hash.digest('hex') !== options.expectedSha256) {
        callback(new UploadMismatchError('content does not match its name (SHA-256)'));
        return;
      }
      callback();
    },
  });
  return Object.defineProperty(guard, 'bytesSeen', { get: () => seen }) as UploadGuard;
}
