/**
 * The archive's sha256, computed on another core. The export's main thread already decrypts and
 * hashes every payload file; hashing the whole archive there too made it the bottleneck, while the
 * plainest tool (`tar | sha256sum`) uses two processes. Bytes are copied into batches (a memcpy is
 * an order of magnitude cheaper than SHA-256) and handed over without another copy, then handed
 * back to be reused; at most MAX_IN_FLIGHT bytes wait for the worker, so memory stays flat when it
 * falls behind and there is no garbage per batch.
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';

const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 16 * 1024 * 1024;

type ToWorker = { type: 'data'; bytes: Uint8Array } | { type: 'end' };
type FromWorker = { type: 'ack'; buffer: ArrayBuffer } | { type: 'digest'; hex: string };

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const hash = createHash('sha256');
  port.on('message', (message: ToWorker) => {
    if (message.type === 'data') {
      hash.update(message.bytes);
      // The batch goes back to be filled again: no allocation per batch, so no garbage to collect.
      const buffer = message.bytes.buffer as ArrayBuffer;
      port.postMessage({ type: 'ack', buffer } satisfies FromWorker, [buffer]);
    } else {
      port.postMessage({ type: 'digest', hex: hash.digest('hex') } satisfies FromWorker);
    }
  });
}

export class WorkerHash {
  // Without --input-type: a worker runs this file, not the string a parent may have been given with -e.
  readonly #worker = new Worker(new URL(import.meta.url), { execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')), resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } });
  #batch = new Uint8Array(BATCH);
  readonly #free: ArrayBuffer[] = [];
  #filled = 0;
  #inFlight = 0;
  #digest: { resolve: (hex: string) => void; reject: (error: Error) => void } | null = null;
  #failure: Error | null = null;
  #acked: (() => void) | null = null;
  #closed = false;

  constructor() {
    this.#worker.on('message', (message: FromWorker) => {
      if (message.type === 'ack') {
        this.#inFlight -= BATCH;
        this.#free.push(message.buffer);
        this.#acked?.();
      } else {
        this.#digest?.resolve(message.hex);
      }
    });
    this.#worker.on('error', (error) => {
      this.#failure = error;
      this.#acked?.();
      this.#digest?.reject(error);
    });
  }

  /** Adds bytes; waits only when too many are still to be hashed. */
  async update(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length; ) {
      const copied = Math.min(bytes.length - offset, BATCH - this.#filled);
      this.#batch.set(bytes.subarray(offset, offset + copied), this.#filled);
      this.#filled += copied;
      offset += copied;
      if (this.#filled === BATCH) await this.#send();
    }
  }

  async #send(): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#filled === 0) return;
    const bytes = this.#batch.subarray(0, this.#filled);
    this.#inFlight += BATCH;
    this.#worker.postMessage({ type: 'data', bytes } satisfies ToWorker, [this.#batch.buffer as ArrayBuffer]);
    const reused = this.#free.pop();
    this.#batch = reused === undefined ? new Uint8Array(BATCH) : new Uint8Array(reused);
    this.#filled = 0;
    while (this.#inFlight > MAX_IN_FLIGHT) {
      await new Promise<void>((resolve) => (this.#acked = resolve));
      this.#acked = null;
      if (this.#failure !== null) throw this.#failure;
    }
  }

  async digest(): Promise<string> {
    await this.#send();
    const hex = new Promise<string>((resolve, reject) => (this.#digest = { resolve, reject }));
    this.#worker.postMessage({ type: 'end' } satisfies ToWorker);
    try {
      return await hex;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (idempotent); an unfinished hash is dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }
}
