/**
 * The archive's sha256 or the payload files' sha256s, computed off the main thread from the same
 * bytes the archive is written from. The export's main thread reads, decrypts and writes; the floor
 * it is measured against (`tar | sha256sum`) uses two processes, so the hashing belongs on other
 * threads. The bytes live in slots of one SharedArrayBuffer: the main thread fills a slot, a worker
 * hashes it where it is (no copy, no transfer, no allocation per batch) and says which file digests
 * the batch finished; the slot is reused once every worker and the writer are done with it.
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createHash, type Hash } from 'node:crypto';

/** A batch's instructions: `range` adds slot bytes [start, end) to the current file, `end` finishes it. */
export type FileOp = { op: 'range'; start: number; end: number } | { op: 'end' };

type ToWorker = { type: 'init'; shared: SharedArrayBuffer; slotBytes: number } | { type: 'batch'; id: number; slot: number; length: number; whole: boolean; ops: FileOp[] } | { type: 'end' };
type FromWorker = { type: 'batch'; id: number; digests: string[] } | { type: 'digest'; hex: string };

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const archive = createHash('sha256');
  let file: Hash | null = null;
  let shared: SharedArrayBuffer | null = null;
  let slotBytes = 0;
  port.on('message', (message: ToWorker) => {
    if (message.type === 'init') {
      shared = message.shared;
      slotBytes = message.slotBytes;
    } else if (message.type === 'batch') {
      if (shared === null) throw new Error('hash worker: batch before init');
      const base = message.slot * slotBytes;
      if (message.whole) archive.update(new Uint8Array(shared, base, message.length));
      const digests: string[] = [];
      for (const op of message.ops) {
        file ??= createHash('sha256');
        if (op.op === 'range') {
          file.update(new Uint8Array(shared, base + op.start, op.end - op.start));
        } else {
          digests.push(file.digest('hex'));
          file = null;
        }
      }
      port.postMessage({ type: 'batch', id: message.id, digests } satisfies FromWorker);
    } else {
      port.postMessage({ type: 'digest', hex: archive.digest('hex') } satisfies FromWorker);
    }
  });
}

export class HashWorker {
  // Without --input-type: a worker runs this file, not the string a parent may have been given with -e.
  readonly #worker = new Worker(new URL(import.meta.url), { execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')), resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } });
  readonly #shared: SharedArrayBuffer;
  readonly slotBytes: number;
  readonly slots: number;
  readonly #waiting = new Map<number, { resolve: (digests: string[]) => void; reject: (error: Error) => void }>();
  #nextId = 0;
  #digest: { resolve: (hex: string) => void; reject: (error: Error) => void } | null = null;
  #failure: Error | null = null;
  #closed = false;

  /** Workers may share one buffer of `slots` slots of `slotBytes`. */
  constructor(shared: SharedArrayBuffer, slotBytes: number) {
    this.slots = Math.floor(shared.byteLength / slotBytes);
    this.slotBytes = slotBytes;
    this.#shared = shared;
    this.#worker.postMessage({ type: 'init', shared: this.#shared, slotBytes } satisfies ToWorker);
    this.#worker.on('message', (message: FromWorker) => {
      if (message.type === 'batch') {
        this.#waiting.get(message.id)?.resolve(message.digests);
        this.#waiting.delete(message.id);
      } else {
        this.#digest?.resolve(message.hex);
      }
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(new Error(`hash worker exited (${code})`));
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
    this.#digest?.reject(error);
  }

  /** The slot's bytes, to be filled by the caller while the slot is not being hashed. */
  slot(index: number): Buffer {
    return Buffer.from(this.#shared, index * this.slotBytes, this.slotBytes);
  }

  /**
   * Hashes the slot's first `length` bytes into the whole digest when `whole`, and applies `ops` to
   * the file digests; resolves with the digests of the files the ops ended, once the worker is done
   * with the slot.
   */
  hash(slot: number, length: number, whole: boolean, ops: FileOp[]): Promise<string[]> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const done = new Promise<string[]>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.#worker.postMessage({ type: 'batch', id, slot, length, whole, ops } satisfies ToWorker);
    return done;
  }

  /** The digest of every batch hashed whole, after every batch handed over before. */
  async digest(): Promise<string> {
    if (this.#failure !== null) throw this.#failure;
    const hex = new Promise<string>((resolve, reject) => (this.#digest = { resolve, reject }));
    this.#worker.postMessage({ type: 'end' } satisfies ToWorker);
    try {
      return await hex;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (idempotent); unfinished hashes are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }
}
