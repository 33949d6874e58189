/**
 * The metering runner (S10; leader only): one key per tenant, reconciled every `intervalMs` on its
 * own timer. A reconcile samples the tenant from the caches (its namespace's spaces and endpoints),
 * moves its month state on to the sample and, when that changes anything stored (new figures or a
 * closed hour: skipping an unchanged sample is exact), writes the ledger (ledger.ts) under the
 * resourceVersion last read. The ledger is the memory: a new leader reads each tenant's state back
 * from the API server and continues from it. The clock is injectable; samples are whole seconds.
 *
 * A tenant that is gone still has its last month metered, with zero usage, until the month closes
 * and its statement is written; at start, the tenants with an open ledger are enqueued for that.
 */
import type { Logger } from 'pino';
import { API } from '../api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../api/types.ts';
import type { ControllerContext } from '../controllers/context.ts';
import { tenantNamespaceName } from '../controllers/labels.ts';
import { Controller, TemporaryError, type ReconcileResult } from '../runtime/controller.ts';
import { objectKey } from '../runtime/object.ts';
import type { MonthState } from './accumulate.ts';
import { LedgerConflict, UsageLedger, type StoredLedger } from './ledger.ts';
import { goneSample, tenantSample } from './sample.ts';
import { meteringStep } from './step.ts';

export interface MeteringOptions {
  /** The operator's namespace, where the ledger lives. */
  namespace: string;
  /** Time between two samples of a tenant. */
  intervalMs: number;
  /** The metering clock (tests move it). */
  now: () => Date;
}

/** The key that lists the open ledgers at start; tenant names are DNS labels, so it names none. */
const OPEN_LEDGERS_KEY = '/open-ledgers';

export interface Metering {
  controller: Controller;
  /** The open month of every tenant metered so far, as last written (for the metrics). */
  states(): Iterable<MonthState>;
}

export function createMeteringController(ctx: ControllerContext, options: MeteringOptions): Metering {
  const tenants = ctx.informers.for<Tenant>(API.Tenant);
  const spaces = ctx.informers.for<BackupSpace>(API.BackupSpace);
  const endpoints = ctx.informers.for<Endpoint>(API.Endpoint);
  const ledger = new UsageLedger(ctx.client, options.namespace);
  const logger: Logger = ctx.logger.child({ controller: 'metering' });
  // A cache of what this process last read or wrote, with its resourceVersion: the ledger is the
  // truth, and a write on a stale entry is refused (LedgerConflict) and read again.
  const stored = new Map<string, StoredLedger>();
  const again: ReconcileResult = { requeueAfterMs: options.intervalMs };

  const reconcile = async (name: string): Promise<ReconcileResult | undefined> => {
    if (name === OPEN_LEDGERS_KEY) {
      for (const tenant of await ledger.openTenants()) controller.enqueue(tenant);
      return undefined;
    }
    const tenant = tenants.get(name);
    let last = stored.get(name);
    if (!last) {
      last = await ledger.newest(name);
      if (last) stored.set(name, last);
    }
    const nowMs = options.now().getTime();
    const namespace = tenant ? tenantNamespaceName(tenant) : '';
    const sample = tenant ? tenantSample(nowMs, spaces.inNamespace(namespace), endpoints.inNamespace(namespace)) : goneSample(nowMs);
    const step = meteringStep(name, tenant !== undefined, last?.state, sample);
    if (step.kind === 'done') {
      stored.delete(name);
      return undefined;
    }
    if (step.kind === 'clock-behind') {
      logger.warn({ tenant: name, sampleAt: sample.atS, inForceSince: step.inForceSinceS }, 'the metering clock is behind the ledger; waiting for it');
      return again;
    }
    if (step.kind === 'unchanged') return again;
    const { advanced } = step;
    try {
      stored.set(name, await ledger.save(last, advanced));
    } catch (error) {
      if (!(error instanceof LedgerConflict)) throw error;
      stored.delete(name);
      throw new TemporaryError(`${error.message}; reading it again`, 1000);
    }
    for (const { month, record } of advanced.records) {
      if (record.kind === 'month') logger.info({ tenant: name, month, storageBilledByteHours: record.storageBilledByteHours.toString(), endpointsActive: record.endpointsActive }, 'usage month closed');
    }
    return again;
  };

  const controller = new Controller({ name: 'metering', concurrency: 1, logger: ctx.logger, metrics: ctx.metrics, reconcile });
  // A new tenant is metered from its creation; later changes are seen at the next sample.
  controller.watch(tenants, (event) => (event.type === 'added' || event.type === 'deleted' ? [objectKey(event.object)] : []));
  // Watched only so the workers wait for these caches: the samples are read from them.
  controller.watch(spaces, () => []);
  controller.watch(endpoints, () => []);
  controller.enqueue(OPEN_LEDGERS_KEY);
  return { controller, states: () => [...stored.values()].map((s) => s.state) };
}
