/**
 * Kubernetes Events (events.k8s.io/v1) about the objects the operator manages: what `kubectl describe`
 * and `kubectl events` show. Repeats of the same event on the same object within a window are
 * dropped, so a periodic resync does not flood the API server. Notes are written by the controllers
 * and never carry secret material.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from './kube/client.ts';
import { collectionPath, K8S } from './kube/resource-ref.ts';
import { microTime, type KubeObject } from './object.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  controller: string;
  instance: string;
  /** Drop repeats of the same event on the same object within this window (default 10 minutes). */
  dedupWindowMs?: number;
}

export class EventRecorder {
  private readonly recent = new Map<string, number>();

  private readonly client: KubeClient;
  private readonly options: EventRecorderOptions;
  private readonly logger: Logger;

  constructor(
    client: KubeClient,
    options: EventRecorderOptions,
    logger: Logger,
  ) {
    this.client = client;
    this.options = options;
    this.logger = logger;
  }

  normal(object: KubeObject, reason: string, note: string, action = reason): Promise<void> {
    return this.record(object, 'Normal', reason, note, action);
  }

  warning(object: KubeObject, reason: string, note: string, action = reason): Promise<void> {
    return this.record(object, 'Warning', reason, note, action);
  }

  /** Emits the event; failures are logged, never thrown (events are best effort). */
  async record(object: KubeObject, type: EventType, reason: string, note: string, action: string): Promise<void> {
    const { name, namespace, uid } = object.metadata;
    if (!name) return;
    const key = `${uid ?? `${namespace}/${name}`}|${type}|${reason}|${note}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < (this.options.dedupWindowMs ?? 10 * 60_000)) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.prune(now);

    // Events about cluster-scoped objects live in the default namespace, as kubectl expects.
    const eventNamespace = namespace ?? 'default';
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace: eventNamespace },
      eventTime: microTime(new Date(now)),
      reportingController: this.options.controller,
      reportingInstance: this.options.instance,
      action,
      reason,
      type,
      note: note.slice(0, 1024),
      regarding: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name,
        ...(namespace ? { namespace } : {}),
        ...(uid ? { uid } : {}),
        ...(object.metadata.resourceVersion ? { resourceVersion: object.metadata.resourceVersion } : {}),
      },
    };
    try {
      await this.client.request({ method: 'POST', path: collectionPath(K8S.Event, eventNamespace), body });
    } catch (error) {
      this.logger.warn({ reason, object: `${object.kind}/${name}`, err: error instanceof Error ? error.message : String(error) }, 'could not record event');
    }
  }

  private prune(now: number): void {
    const window = this.options.dedupWindowMs ?? 10 * 60_000;
    for (const [key, at] of this.recent) if (now - at >= window) this.recent.delete(key);
  }
}
