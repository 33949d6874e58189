/**
 * Prometheus metrics of the runtime, named and labelled as controller-runtime names them so existing
 * dashboards and alerts work unchanged.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface QueueMetrics {
  depth: Gauge<'name'>;
  adds: Counter<'name'>;
  retries: Counter<'name'>;
  queueDuration: Histogram<'name'>;
  workDuration: Histogram<'name'>;
  unfinishedWork: Gauge<'name'>;
  longestRunning: Gauge<'name'>;
}

export interface ReconcileMetrics {
  total: Counter<'controller' | 'result'>;
  errors: Counter<'controller'>;
  duration: Histogram<'controller'>;
  maxConcurrent: Gauge<'controller'>;
  activeWorkers: Gauge<'controller'>;
}

export interface RuntimeMetrics {
  registry: Registry;
  queue: QueueMetrics;
  reconcile: ReconcileMetrics;
  leader: Gauge<'name'>;
  watchRestarts: Counter<'resource' | 'reason'>;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createRuntimeMetrics(registry = new Registry()): RuntimeMetrics {
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    queue: {
      depth: new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers }),
      adds: new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers }),
      retries: new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers }),
      queueDuration: new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames: ['name'], buckets: DURATION_BUCKETS, registers }),
      workDuration: new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: ['name'], buckets: DURATION_BUCKETS, registers }),
      unfinishedWork: new Gauge({ name: 'workqueue_unfinished_work_seconds', help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration', labelNames: ['name'], registers }),
      longestRunning: new Gauge({ name: 'workqueue_longest_running_processor_seconds', help: 'How many seconds has the longest running processor for workqueue been running', labelNames: ['name'], registers }),
    },
    reconcile: {
      total: new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers }),
      errors: new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers }),
      duration: new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'], buckets: DURATION_BUCKETS, registers }),
      maxConcurrent: new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers }),
      activeWorkers: new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers }),
    },
    leader: new Gauge({ name: 'leader_election_master_status', help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master', labelNames: ['name'], registers }),
    watchRestarts: new Counter({ name: 'tenantbackup_watch_restarts_total', help: 'Watches restarted, by resource and reason (expired: 410 Gone and re-list; error: reconnect with backoff; closed: server ended the stream)', labelNames: ['resource', 'reason'], registers }),
  };
}
