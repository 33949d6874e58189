/** One informer per (resource, namespace, selector), shared by every controller that watches it. */
import type { Logger } from 'pino';
import { Informer, type InformerOptions } from './informer.ts';
import type { KubeClient } from './kube/client.ts';
import type { ResourceRef } from './kube/resource-ref.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { KubeObject } from './object.ts';

export class InformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private signal?: AbortSignal;

  private readonly client: KubeClient;
  private readonly logger: Logger;
  private readonly metrics?: RuntimeMetrics;
  private readonly defaults: Partial<InformerOptions>;

  constructor(
    client: KubeClient,
    logger: Logger,
    metrics?: RuntimeMetrics,
    defaults: Partial<InformerOptions> = {},
  ) {
    this.client = client;
    this.logger = logger;
    this.metrics = metrics;
    this.defaults = defaults;
  }

  for<T extends KubeObject>(ref: ResourceRef, options: Omit<InformerOptions, 'ref'> = {}): Informer<T> {
    const key = `${ref.group}/${ref.plural}|${options.namespace ?? ''}|${options.labelSelector ?? ''}`;
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer<KubeObject>(this.client, { ...this.defaults, ...options, ref }, this.logger.child({ informer: ref.plural }), this.metrics);
      this.informers.set(key, informer);
      // Informers asked for after start() run at once.
      if (this.signal) void informer.run(this.signal);
    }
    return informer as unknown as Informer<T>;
  }

  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const informer of this.informers.values()) void informer.run(signal);
  }

  allSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }
}
