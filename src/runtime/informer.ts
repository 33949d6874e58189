/**
 * List-watch cache of one resource: lists, then watches from the list's resourceVersion with
 * bookmarks; re-lists when the server says the version is gone (410); reconnects with backoff on any
 * other failure; never exits and never stops silently. Periodic resync replays every object so
 * controllers converge even if an event was missed.
 */
import type { Logger } from 'pino';
import { sleep } from './sleep.ts';
import type { KubeClient } from './kube/client.ts';
import { isGone, KubeApiError, type KubeStatus } from './kube/errors.ts';
import { listAll } from './kube/list.ts';
import { collectionPath, type ResourceRef } from './kube/resource-ref.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { KubeObject } from './object.ts';
import { objectKey } from './object.ts';
import { backoffDelay } from './workqueue.ts';
import { IndexedStore, NAMESPACE_INDEX, type IndexFunction } from './indexed-store.ts';

export type InformerEventType = 'added' | 'updated' | 'deleted' | 'resync';

export interface InformerEvent<T> {
  type: InformerEventType;
  object: T;
  /** The previous version, for updates. */
  old?: T;
}

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

export interface InformerOptions {
  ref: ResourceRef;
  namespace?: string;
  labelSelector?: string;
  /** Replay every cached object this often (default 10 minutes). */
  resyncMs?: number;
  pageSize?: number;
  /** Server-side watch timeout; the watch is then re-opened from the last version (default ~5 minutes). */
  watchTimeoutSeconds?: number;
}


export class Informer<T extends KubeObject> {
  private readonly store = new IndexedStore<T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private resourceVersion = '';
  private syncedFlag = false;
  private resolveSynced!: () => void;
  readonly synced: Promise<void> = new Promise((resolve) => {
    this.resolveSynced = resolve;
  });
  private readonly label: string;

  private readonly client: KubeClient;
  readonly options: InformerOptions;
  private readonly logger: Logger;
  private readonly metrics?: RuntimeMetrics;

  constructor(
    client: KubeClient,
    options: InformerOptions,
    logger: Logger,
    metrics?: RuntimeMetrics,
  ) {
    this.client = client;
    this.options = options;
    this.logger = logger;
    this.metrics = metrics;
    this.label = `${options.ref.plural}${options.ref.group ? `.${options.ref.group}` : ''}`;
  }

  hasSynced(): boolean {
    return this.syncedFlag;
  }

  onEvent(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  /** Every cached object (a copy of the whole store: for rare, fleet-wide reads, not per event). */
  list(filter?: (object: T) => boolean): T[] {
    const all = [...this.store.values()];
    return filter ? all.filter(filter) : all;
  }

  /** The cached objects of one namespace, from the store's namespace index. */
  inNamespace(namespace: string): T[] {
    return this.store.byIndex(NAMESPACE_INDEX, namespace);
  }

  /** Registers an index of the cache (the same name and function again is a no-op). */
  addIndex(name: string, indexer: IndexFunction<T>): void {
    this.store.addIndex(name, indexer);
  }

  /** The cached objects found under `value` in the index `name`. */
  byIndex(name: string, value: string): T[] {
    return this.store.byIndex(name, value);
  }

  /** Runs until the signal aborts. Errors are logged and retried, never thrown. */
  async run(signal: AbortSignal): Promise<void> {
    const resync = this.startResync(signal);
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        await this.watch(signal);
        this.metrics?.watchRestarts.inc({ resource: this.label, reason: 'closed' });
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (isGone(error)) {
          this.logger.info({ resource: this.label, resourceVersion: this.resourceVersion }, 'watch expired (410 Gone); re-listing');
          this.metrics?.watchRestarts.inc({ resource: this.label, reason: 'expired' });
          needList = true;
          continue;
        }
        const delay = backoffDelay(failures++, { baseMs: 200, maxMs: 30_000 });
        this.metrics?.watchRestarts.inc({ resource: this.label, reason: 'error' });
        this.logger.warn({ resource: this.label, err: error instanceof Error ? error.message : String(error), retryInMs: delay }, 'list/watch failed; retrying');
        await sleep(delay, signal);
      }
    }
    clearInterval(resync);
  }

  private startResync(signal: AbortSignal): NodeJS.Timeout {
    const period = this.options.resyncMs ?? 10 * 60_000;
    const timer = setInterval(() => {
      if (signal.aborted || !this.syncedFlag) return;
      for (const object of this.store.values()) this.emit({ type: 'resync', object });
    }, period);
    timer.unref();
    return timer;
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await listAll<T>(this.client, this.options.ref, { namespace: this.options.namespace, labelSelector: this.options.labelSelector, pageSize: this.options.pageSize, signal });
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(objectKey(item), this.withKind(item));

    for (const [key, old] of this.store.entries()) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit({ type: 'deleted', object: old });
      }
    }
    for (const [key, object] of fresh) {
      const old = this.store.get(key);
      this.store.set(key, object);
      if (!old) this.emit({ type: 'added', object });
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.emit({ type: 'updated', object, old });
    }
    this.resourceVersion = resourceVersion;
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      this.resolveSynced();
    }
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
    // A half-open connection can go silent forever; bookmarks arrive about every minute, so a long
    // silence means the connection is dead and is replaced.
    const idle = new AbortController();
    const watchSignal = AbortSignal.any([signal, idle.signal]);
    let idleTimer = setTimeout(() => idle.abort(), (timeoutSeconds + 60) * 1000);
    try {
      const events = this.client.watch<T | KubeStatus>(
        collectionPath(this.options.ref, this.options.namespace),
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds, labelSelector: this.options.labelSelector },
        watchSignal,
      );
      for await (const event of events) {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => idle.abort(), (timeoutSeconds + 60) * 1000);
        if (event.type === 'ERROR') {
          const status = event.object as KubeStatus;
          throw new KubeApiError('WATCH', this.label, status.code ?? 500, status, '');
        }
        const object = this.withKind(event.object as T);
        if (object.metadata.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        if (event.type === 'BOOKMARK') continue;
        const key = objectKey(object);
        const old = this.store.get(key);
        if (event.type === 'DELETED') {
          this.store.delete(key);
          this.emit({ type: 'deleted', object });
        } else {
          this.store.set(key, object);
          this.emit(old ? { type: 'updated', object, old } : { type: 'added', object });
        }
      }
    } catch (error) {
      if (idle.signal.aborted && !signal.aborted) throw new Error(`watch of ${this.label} went silent; reconnecting`, { cause: error });
      throw error;
    } finally {
      clearTimeout(idleTimer);
    }
  }

  /** List items carry no apiVersion/kind; events do. Make them uniform. */
  private withKind(object: T): T {
    if (object.kind) return object;
    const { group, version, kind } = this.options.ref;
    return { ...object, apiVersion: group ? `${group}/${version}` : version, kind };
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (error) {
        this.logger.error({ resource: this.label, err: error instanceof Error ? error.message : String(error) }, 'event handler failed');
      }
    }
  }
}
