/**
 * The reconcile loop: level-triggered, one key at a time per key, bounded concurrency. A reconcile
 * returns a result that may ask for a requeue after a delay (controller-runtime's RequeueAfter), or
 * throws: a TemporaryError is retried after the delay it names, any other error with per-key
 * exponential backoff. What retrying cannot fix (a broken rule, bad input) is not thrown: the
 * reconciler reports it as Stalled in status and returns, and the object's next change requeues it.
 * Given a failureStatus target, a failed reconcile also leaves Reconciling=True and Ready=False in
 * the object's status (failure-status.ts), so kstatus never reads an object that keeps failing as
 * Current only because its reconcile threw before writing a status.
 */
import type { Logger } from 'pino';
import { redactText } from '../log/redact.ts';
import { reportFailure, type FailureStatusTarget } from './failure-status.ts';
import type { Informer, InformerEvent } from './informer.ts';
import { isConflict, isNamespaceTerminating } from './kube/errors.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { KubeObject } from './object.ts';
import { WorkQueue, type BackoffPolicy } from './workqueue.ts';

export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds, even if nothing changes. */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | undefined>;

/** An error worth retrying (a dependency not ready yet); optionally after a given delay. */
export class TemporaryError extends Error {
  readonly retryAfterMs?: number;

  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'TemporaryError';
    this.retryAfterMs = retryAfterMs;
  }
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconcile;
  concurrency?: number;
  logger: Logger;
  metrics?: RuntimeMetrics;
  backoff?: BackoffPolicy;
  /** The kind whose objects the keys name, to record a failed reconcile in their status. */
  failureStatus?: FailureStatusTarget;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcileFn: Reconcile;
  private readonly concurrency: number;
  private readonly logger: Logger;
  private readonly metrics?: RuntimeMetrics;
  private readonly failureStatus?: FailureStatusTarget;
  private readonly informers: Informer<KubeObject>[] = [];

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconcileFn = options.reconcile;
    this.concurrency = options.concurrency ?? 2;
    this.logger = options.logger.child({ controller: options.name });
    this.metrics = options.metrics;
    this.failureStatus = options.failureStatus;
    this.queue = new WorkQueue(options.name, options.metrics?.queue, options.backoff);
  }

  /**
   * Enqueues the keys `map` derives from every event of the informer: the object's own key for the
   * primary kind, its owner's for owned objects, the affected objects' for anything else.
   */
  watch<T extends KubeObject>(informer: Informer<T>, map: (event: InformerEvent<T>) => string[]): this {
    informer.onEvent((event) => {
      for (const key of map(event)) this.queue.add(key);
    });
    this.informers.push(informer as unknown as Informer<KubeObject>);
    return this;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Waits for the watched caches, then runs the workers until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.race([
      Promise.all(this.informers.map((i) => i.synced)),
      new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
    ]);
    if (signal.aborted) return;
    this.logger.info({ workers: this.concurrency }, 'caches synced; starting workers');
    this.metrics?.reconcile.maxConcurrent.set({ controller: this.name }, this.concurrency);
    signal.addEventListener('abort', () => this.queue.shutDown(), { once: true });
    const progress = setInterval(() => {
      const { longest, total } = this.queue.inProgressSeconds();
      this.metrics?.queue.longestRunning.set({ name: this.name }, longest);
      this.metrics?.queue.unfinishedWork.set({ name: this.name }, total);
    }, 1000);
    progress.unref();
    await Promise.all(Array.from({ length: this.concurrency }, () => this.worker()));
    clearInterval(progress);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  /** One reconcile of one key, with its outcome turned into queue actions and metrics. */
  async process(key: string): Promise<void> {
    const controller = this.name;
    const started = process.hrtime.bigint();
    this.metrics?.reconcile.activeWorkers.inc({ controller });
    try {
      const result = await this.reconcileFn(key);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics?.reconcile.total.inc({ controller, result: 'requeue_after' });
      } else {
        this.metrics?.reconcile.total.inc({ controller, result: 'success' });
      }
    } catch (error) {
      // An API server or gateway answer may echo a credential it was sent.
      const message = redactText(error instanceof Error ? error.message : String(error));
      this.metrics?.reconcile.total.inc({ controller, result: 'error' });
      this.metrics?.reconcile.errors.inc({ controller });
      if (error instanceof TemporaryError && error.retryAfterMs !== undefined) {
        this.queue.addAfter(key, error.retryAfterMs);
        this.logger.info({ object: key, err: message, retryInMs: error.retryAfterMs }, 'reconcile waiting');
      } else if (isNamespaceTerminating(error)) {
        // Writing into a namespace being deleted: its objects are going away; nothing to retry.
        this.queue.forget(key);
        this.logger.debug({ object: key, err: message }, 'namespace is being deleted; nothing to reconcile');
      } else if (isConflict(error)) {
        // Optimistic concurrency: the object changed since it was read. Expected; read again and retry.
        this.queue.addRateLimited(key);
        this.logger.debug({ object: key, err: message }, 'conflict; retrying with fresh data');
      } else {
        this.queue.addRateLimited(key);
        this.logger.warn({ object: key, err: message, retries: this.queue.retries(key) }, 'reconcile failed; retrying with backoff');
      }
      // Not for a namespace being deleted; a conflict or a TemporaryError (contention, retried within
      // moments) only on an object that has reported nothing yet.
      if (this.failureStatus && !isNamespaceTerminating(error)) {
        const unlessReported = isConflict(error) || error instanceof TemporaryError;
        await reportFailure(this.failureStatus, { key, error, retries: this.queue.retries(key), unlessReported }, this.logger, new Date());
      }
    } finally {
      this.metrics?.reconcile.activeWorkers.dec({ controller });
      this.metrics?.reconcile.duration.observe({ controller }, Number(process.hrtime.bigint() - started) / 1e9);
      this.queue.done(key);
    }
  }
}
