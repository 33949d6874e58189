/**
 * Leader election on a coordination.k8s.io Lease, with client-go's algorithm: a candidate takes the
 * lease when it is free or its holder has not renewed it for leaseDuration (judged by when *we*
 * observed the last change, not by the holder's clock); the leader renews every retryPeriod and, if
 * it cannot renew for renewDeadline, stops leading. Writes use the lease's resourceVersion, so two
 * candidates can never both win. On shutdown the leader releases the lease so a successor need not
 * wait for it to expire — but only once its workers have stopped, and it goes on renewing while they
 * finish, so a successor never works beside reconciles still in flight.
 */
import type { Logger } from 'pino';
import { microTime } from './object.ts';
import { sleep } from './sleep.ts';
import type { KubeClient } from './kube/client.ts';
import { isConflict, isNotFound } from './kube/errors.ts';
import { collectionPath, K8S, objectPath } from './kube/resource-ref.ts';
import type { RuntimeMetrics } from './metrics.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}


export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  /** The last lease record seen and when we saw it change: expiry is judged on our own clock. */
  private observed?: { holder: string; renewTime: string; at: number };
  private leading = false;

  private readonly client: KubeClient;
  private readonly options: LeaderElectionOptions;
  private readonly logger: Logger;
  private readonly metrics?: RuntimeMetrics;

  constructor(
    client: KubeClient,
    options: LeaderElectionOptions,
    logger: Logger,
    metrics?: RuntimeMetrics,
  ) {
    this.client = client;
    this.options = options;
    this.logger = logger;
    this.metrics = metrics;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until elected, calls `lead` with a signal that aborts when leadership is lost or the
   * process stops, and returns when leadership ends. On 'stopped' the promise `lead` returned (its
   * workers) has settled before the lease is released. Returns 'lost' or 'stopped'.
   */
  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<unknown>): Promise<'lost' | 'stopped'> {
    this.logger.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, 'waiting to become leader');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) break;
      await sleep(this.retryPeriodMs, signal);
    }
    if (signal.aborted) return 'stopped';

    this.setLeading(true);
    this.logger.info({ identity: this.options.identity }, 'became leader');
    const leadership = new AbortController();
    let workersDone = false;
    const workers = lead(AbortSignal.any([signal, leadership.signal])).then(
      () => { workersDone = true; },
      (error: unknown) => {
        workersDone = true;
        this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'leader workers failed');
      },
    );

    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.renewDeadlineMs) {
        this.logger.error({ identity: this.options.identity }, 'failed to renew the lease before the deadline; leadership lost');
        this.setLeading(false);
        leadership.abort();
        return 'lost';
      }
    }
    leadership.abort();
    await this.renewUntil(workers, () => workersDone);
    await this.release();
    this.setLeading(false);
    return 'stopped';
  }

  /**
   * Keeps the lease renewed while the workers finish after a stop, so it neither lapses (a successor
   * would start beside them) nor is given up early.
   */
  private async renewUntil(workers: Promise<void>, done: () => boolean): Promise<void> {
    while (!done()) {
      const tick = new AbortController();
      const timer = sleep(this.retryPeriodMs, tick.signal);
      await Promise.race([workers, timer]);
      tick.abort();
      if (!done()) await this.tryAcquireOrRenew();
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.metrics?.leader.set({ name: this.options.name }, leading ? 1 : 0);
  }

  private path(): string {
    return objectPath(K8S.Lease, this.options.name, this.options.namespace);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const { identity } = this.options;
    const spec = { holderIdentity: identity, leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000), renewTime: microTime(now) };
    try {
      let lease: Lease;
      try {
        lease = await this.client.request<Lease>({ method: 'GET', path: this.path(), timeoutMs: this.renewDeadlineMs });
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.client.request({
          method: 'POST',
          path: collectionPath(K8S.Lease, this.options.namespace),
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.options.name, namespace: this.options.namespace }, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } },
          timeoutMs: this.renewDeadlineMs,
        });
        this.observed = { holder: identity, renewTime: spec.renewTime, at: Date.now() };
        return true;
      }

      const holder = lease.spec.holderIdentity ?? '';
      const renewTime = lease.spec.renewTime ?? '';
      if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
        this.observed = { holder, renewTime, at: Date.now() };
      }
      const held = holder !== '' && holder !== identity;
      const expired = this.observed.at + (lease.spec.leaseDurationSeconds ?? 0) * 1000 < Date.now();
      if (held && !expired) return false;

      const taking = holder !== identity;
      await this.client.request({
        method: 'PUT',
        path: this.path(),
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            acquireTime: taking ? microTime(now) : lease.spec.acquireTime,
            leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (taking && holder !== '' ? 1 : 0),
          },
        },
        timeoutMs: this.renewDeadlineMs,
      });
      this.observed = { holder: identity, renewTime: spec.renewTime, at: Date.now() };
      if (taking) this.logger.info({ previousHolder: holder || '(none)' }, 'acquired the lease');
      return true;
    } catch (error) {
      if (!isConflict(error)) {
        this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'lease request failed');
      }
      return false;
    }
  }

  /** Gives the lease up so the next candidate need not wait for it to expire. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.request<Lease>({ method: 'GET', path: this.path(), timeoutMs: 5000 });
      if (lease.spec.holderIdentity !== this.options.identity) return;
      await this.client.request({
        method: 'PUT',
        path: this.path(),
        body: { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(new Date()), acquireTime: null } },
        timeoutMs: 5000,
      });
      this.logger.info('released the lease');
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not release the lease');
    }
  }
}
