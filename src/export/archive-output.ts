/**
 * The archive's bytes on their way out: gathered into large slots of shared memory, each slot
 * written to the destination in one write and, at the same time and from the same bytes, hashed by
 * two workers: one the whole archive, one the payload files it holds. Two, because on two cores the
 * main thread (reads, decryption, writes) has about as much work as each hash: three threads let
 * the scheduler spread it, where one worker doing both hashes was the critical path. Memory is flat:
 * a fixed number of slots, and a slot is refilled only once it is written and hashed by both.
 */
import { WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { HashWorker, type FileOp } from './hash-worker.ts';

const DEFAULT_SLOTS = 4;
const DEFAULT_SLOT_BYTES = 4 * 1024 * 1024;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // Awaited later (or never, when the archive fails first): not an unhandled rejection meanwhile.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function written(out: Writable, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(bytes, (error) => (error ? reject(error) : resolve())));
}

export class ArchiveOutput {
  readonly #archive: HashWorker;
  readonly #files: HashWorker;
  readonly #out: Writable;
  /**
   * A file stream lets go of a chunk once its write has called back, so a slot can be handed to it
   * as it is. Any other destination (a PassThrough feeding an upload) may keep the chunk queued
   * after that, so it gets a copy.
   */
  readonly #direct: boolean;
  readonly #busy: Array<Promise<void> | null>;
  #slot = 0;
  #buffer: Buffer;
  #filled = 0;
  #ops: FileOp[] = [];
  #endedFiles: Array<Deferred<string>> = [];
  #inFile = false;
  #fileStart = 0;
  #size = 0;
  #failure: Error | null = null;

  constructor(out: Writable, options: { slots?: number; slotBytes?: number } = {}) {
    const slots = options.slots ?? DEFAULT_SLOTS;
    if (slots < 2) throw new RangeError('ArchiveOutput needs at least two slots');
    const slotBytes = options.slotBytes ?? DEFAULT_SLOT_BYTES;
    const shared = new SharedArrayBuffer(slots * slotBytes);
    this.#archive = new HashWorker(shared, slotBytes);
    this.#files = new HashWorker(shared, slotBytes);
    this.#out = out;
    this.#direct = out instanceof WriteStream;
    // A file stream is never waited on for 'drain' (its slots' write callbacks pace it), so without
    // a listener its 'error' would be unhandled; the failed write's callback fails the archive.
    out.on('error', (error: Error) => {
      this.#failure ??= error;
    });
    this.#busy = new Array<Promise<void> | null>(slots).fill(null);
    this.#buffer = this.#archive.slot(0);
  }

  /** Bytes handed over so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends a copy of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length; ) {
      if (this.#filled === this.#buffer.length) await this.#send();
      const copied = Math.min(bytes.length - offset, this.#buffer.length - this.#filled);
      this.#buffer.set(bytes.subarray(offset, offset + copied), this.#filled);
      this.#filled += copied;
      this.#size += copied;
      offset += copied;
    }
  }

  /**
   * Lets `read` put bytes straight into the free part of the current slot (no copy); returns how
   * many it put there. `read` must not keep the buffer.
   */
  async fill(read: (into: Buffer) => Promise<number>): Promise<number> {
    if (this.#filled === this.#buffer.length) await this.#send();
    const space = this.#buffer.length - this.#filled;
    const count = await read(this.#buffer.subarray(this.#filled));
    if (!Number.isInteger(count) || count < 0 || count > space) throw new RangeError(`read reported ${count} bytes into ${space}`);
    this.#filled += count;
    this.#size += count;
    return count;
  }

  /** What is written from now until endFile is one payload file's content, hashed on its own. */
  beginFile(): void {
    if (this.#inFile) throw new Error('beginFile while a file is open');
    this.#inFile = true;
    this.#fileStart = this.#filled;
  }

  /** Ends the file; resolves with its sha256 once the worker has hashed all of it. */
  endFile(): Promise<string> {
    if (!this.#inFile) throw new Error('endFile without beginFile');
    this.#closeRange();
    this.#inFile = false;
    this.#ops.push({ op: 'end' });
    const digest = deferred<string>();
    this.#endedFiles.push(digest);
    return digest.promise;
  }

  #closeRange(): void {
    if (this.#inFile && this.#filled > this.#fileStart) this.#ops.push({ op: 'range', start: this.#fileStart, end: this.#filled });
    this.#fileStart = 0;
  }

  /** Hands the current slot to the worker and the destination, then waits for the next slot to be free. */
  async #send(): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    this.#closeRange();
    const slot = this.#slot;
    const bytes = this.#buffer.subarray(0, this.#filled);
    const ended = this.#endedFiles;
    const archived = this.#archive.hash(slot, bytes.length, true, []);
    const hashed = this.#files.hash(slot, bytes.length, false, this.#ops);
    this.#ops = [];
    this.#endedFiles = [];
    let copy: Buffer | null = null;
    let stored: Promise<void>;
    if (bytes.length === 0) stored = Promise.resolve();
    else if (this.#direct) stored = written(this.#out, bytes);
    else {
      copy = Buffer.from(bytes);
      stored = written(this.#out, copy);
    }
    // A file's digest is given out only once the bytes it covers are written as well as hashed.
    const busy = Promise.all([archived, hashed, stored]).then(([, digests]) => {
      ended.forEach((file, i) => {
        const hex = digests[i];
        if (hex === undefined) file.reject(new Error('hash worker returned too few file digests'));
        else file.resolve(hex);
      });
    });
    busy.catch((error: unknown) => {
      this.#failure ??= error instanceof Error ? error : new Error(String(error));
      for (const file of ended) file.reject(this.#failure);
    });
    this.#busy[slot] = busy;
    // Only after `busy` holds every promise of the slot: a failure while waiting is then handled.
    if (copy !== null && this.#out.writableNeedDrain) await once(this.#out, 'drain');
    this.#slot = (slot + 1) % this.#busy.length;
    this.#buffer = this.#archive.slot(this.#slot);
    this.#filled = 0;
    await this.#busy[this.#slot];
  }

  /** Sends the current slot even if it is not full: file digests ended in it are then on their way. */
  async flush(): Promise<void> {
    if (this.#filled > 0 || this.#ops.length > 0) await this.#send();
  }

  /** Sends what is left and waits for all of it; resolves with the archive's sha256. */
  async finish(): Promise<string> {
    if (this.#inFile) throw new Error('finish while a file is open');
    await this.#send();
    await Promise.all(this.#busy);
    if (this.#failure !== null) throw this.#failure;
    await this.#files.close();
    return this.#archive.digest();
  }

  /** Stops the workers (idempotent). */
  async close(): Promise<void> {
    await Promise.all([this.#archive.close(), this.#files.close()]);
  }
}
