/**
 * A work queue with client-go's semantics: a key is queued at most once (de-duplicated), is never
 * handed to two workers at once (a key added while it is being processed is queued again when the
 * worker is done), can be delayed, and backs off exponentially per key while it keeps failing.
 */
import type { QueueMetrics } from './metrics.ts';

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 5 * 60_000 };

/** Delay before the nth retry (n starting at 0): base·2ⁿ, capped. */
export function backoffDelay(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures, 30));
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Keys added and not yet handed to a worker (client-go's dirty set), with when they were added. */
  private readonly addedAt = new Map<string, number>();
  /** Keys a worker holds (client-go's processing set), with when it took them. */
  private readonly startedAt = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  readonly name: string;
  private readonly metrics?: QueueMetrics;
  private readonly backoff: BackoffPolicy;

  constructor(
    name: string,
    metrics?: QueueMetrics,
    backoff: BackoffPolicy = DEFAULT_BACKOFF,
  ) {
    this.name = name;
    this.metrics = metrics;
    this.backoff = backoff;
  }

  get length(): number {
    return this.queue.length;
  }

  /** Keys waiting for a delay to pass (scheduled requeues and backoffs). */
  get waiting(): number {
    return this.timers.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.addedAt.has(key)) return;
    this.metrics?.adds.inc({ name: this.name });
    this.addedAt.set(key, Date.now());
    if (this.startedAt.has(key)) return;
    this.push(key);
  }

  /** Adds the key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-adds a failed key after its per-key exponential backoff. */
  addRateLimited(key: string): void {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    this.metrics?.retries.inc({ name: this.name });
    this.addAfter(key, backoffDelay(failures, this.backoff));
  }

  /** The key succeeded (or gave up): its backoff starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; undefined once the queue is shut down and drained. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The worker finished with the key; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    const started = this.startedAt.get(key);
    if (started !== undefined) this.metrics?.workDuration.observe({ name: this.name }, (Date.now() - started) / 1000);
    this.startedAt.delete(key);
    if (this.addedAt.has(key)) this.push(key);
    this.updateDepth();
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** Seconds the longest-running key has been processed, and the sum over all keys in progress. */
  inProgressSeconds(now = Date.now()): { longest: number; total: number } {
    let longest = 0;
    let total = 0;
    for (const started of this.startedAt.values()) {
      const seconds = (now - started) / 1000;
      longest = Math.max(longest, seconds);
      total += seconds;
    }
    return { longest, total };
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else this.queue.push(key);
    this.updateDepth();
  }

  private take(key: string): string {
    const added = this.addedAt.get(key);
    if (added !== undefined) this.metrics?.queueDuration.observe({ name: this.name }, (Date.now() - added) / 1000);
    this.addedAt.delete(key);
    this.startedAt.set(key, Date.now());
    this.updateDepth();
    return key;
  }

  private updateDepth(): void {
    this.metrics?.depth.set({ name: this.name }, this.queue.length);
  }
}
