/**
 * The reports controller (S4): runs on the leader only, one key per Tenant. A reconcile decides
 * whether the tenant's last ended period is still to be reported, and if so composes the report from
 * the caches and the gateways' last reports and hands it to delivery; then it asks to be woken at the
 * end of the next period (at most `checkIntervalMs` away: a timer, so a clock moved by a test or a
 * missed wake-up is caught up). The clock is injectable.
 */
import type { Logger } from 'pino';
import { API } from '../api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../api/types.ts';
import type { GatewayReport } from '../gateway/report-contract.ts';
import type { GatewayReports } from '../controllers/backupspace/report.ts';
import type { ControllerContext } from '../controllers/context.ts';
import { Controller, type ReconcileResult } from '../runtime/controller.ts';
import { objectKey } from '../runtime/object.ts';
import { deliver } from './deliver.ts';
import { computeDigest } from './digest.ts';
import type { ReportMailer } from './mailer.ts';
import { duePeriod, periodContaining, type ReportPeriod, type ReportPeriodKind } from './period.ts';
import { recordName, ReportRecords, type ReportRecord, MAX_ATTEMPTS, RETRY_AFTER_MS, STALE_CLAIM_MS } from './record.ts';
import { renderReport } from './render.ts';

export interface ReportsOptions {
  gatewayReports: GatewayReports;
  mailer: ReportMailer;
  /** The reports' clock (tests move it). */
  now: () => Date;
  /** Who claims, in the records: this process's leader-election identity. */
  identity: string;
  /** Longest sleep between two looks at a tenant. */
  checkIntervalMs: number;
  /** After the start, how long to wait for every space's gateway report before reporting without it. */
  warmupMs: number;
  /** Domain of the report Message-IDs (the from address's). */
  messageDomain: string;
}

const DAY_MS = 86_400_000;

/** Why a tenant gets no report now; undefined when one is due. */
function skipReason(tenant: Tenant | undefined): string | undefined {
  if (!tenant) return 'gone';
  if (tenant.metadata.deletionTimestamp || tenant.spec.contract?.state === 'Terminated') return 'terminating';
  if (!tenant.status?.namespace) return 'no namespace yet';
  if ((tenant.spec.reports?.period ?? 'Monthly') === 'Off') return 'reports off';
  return undefined;
}

/** Spaces whose gateway has not reported since the start, while the warm-up lasts: wait for them. */
function waitingForFigures(spaces: readonly BackupSpace[], reports: GatewayReports, sinceStartMs: number, warmupMs: number): boolean {
  if (sinceStartMs >= warmupMs) return false;
  return spaces.some((s) => !reports.get(objectKey(s)));
}

function composeRecord(tenant: Tenant, period: ReportPeriod, facts: { spaces: BackupSpace[]; endpoints: Endpoint[]; gatewayReports: Map<string, GatewayReport>; previous: ReportRecord['baseline'] | undefined }, now: Date, identity: string): ReportRecord {
  const digest = computeDigest({ tenant, spaces: facts.spaces, endpoints: facts.endpoints, gatewayReports: facts.gatewayReports, previous: facts.previous, period, now });
  const rendered = renderReport(digest, tenant.spec.reports?.language ?? 'it');
  return {
    state: 'sending',
    periodId: period.id,
    periodKind: period.kind,
    periodEnd: new Date(period.endMs).toISOString(),
    claimedAt: now.toISOString(),
    claimedBy: identity,
    attempts: 1,
    recipients: tenant.spec.contacts.map((c) => c.email),
    ...rendered,
    baseline: digest.baseline,
  };
}

export function createReportsController(ctx: ControllerContext, options: ReportsOptions): Controller {
  const tenants = ctx.informers.for<Tenant>(API.Tenant);
  const spaces = ctx.informers.for<BackupSpace>(API.BackupSpace);
  const endpoints = ctx.informers.for<Endpoint>(API.Endpoint);
  const records = new ReportRecords(ctx.client);
  const logger: Logger = ctx.logger.child({ controller: 'reports' });
  const startedMs = options.now().getTime();

  const wakeAt = (atMs: number): ReconcileResult => ({ requeueAfterMs: Math.max(1000, Math.min(options.checkIntervalMs, atMs - options.now().getTime())) });

  const reconcile = async (name: string): Promise<ReconcileResult | undefined> => {
    const tenant = tenants.get(name);
    if (skipReason(tenant) !== undefined || !tenant) return tenant ? { requeueAfterMs: options.checkIntervalMs } : undefined;
    const kind = (tenant.spec.reports?.period ?? 'Monthly') as ReportPeriodKind;
    const now = options.now();
    const nextEndMs = periodContaining(kind, now.getTime()).endMs;
    const period = duePeriod(kind, now.getTime(), new Date(tenant.metadata.creationTimestamp ?? now).getTime() || now.getTime());
    if (!period) return wakeAt(nextEndMs);
    const namespace = tenant.status?.namespace ?? '';

    const existing = await records.read(namespace, recordName(period));
    if (existing?.record.state === 'sent' || (existing && existing.record.attempts >= MAX_ATTEMPTS)) return wakeAt(nextEndMs);
    if (existing) {
      const waitMs = (existing.record.state === 'sending' ? STALE_CLAIM_MS : RETRY_AFTER_MS) - (now.getTime() - Date.parse(existing.record.claimedAt));
      if (waitMs > 0) return wakeAt(now.getTime() + waitMs);
    }

    const tenantSpaces = spaces.inNamespace(namespace);
    if (waitingForFigures(tenantSpaces, options.gatewayReports, now.getTime() - startedMs, options.warmupMs)) return { requeueAfterMs: 2000 };
    const gatewayReports = new Map<string, GatewayReport>();
    for (const space of tenantSpaces) {
      const stored = options.gatewayReports.get(objectKey(space));
      if (stored) gatewayReports.set(space.metadata.name ?? '', stored.report);
    }
    const previous = await records.previousBaseline(namespace, period.endMs);
    const record = composeRecord(tenant, period, { spaces: tenantSpaces, endpoints: endpoints.inNamespace(namespace), gatewayReports, previous }, now, options.identity);
    const messageId = `<${recordName(period)}.${tenant.metadata.uid ?? name}@${options.messageDomain}>`;
    const result = await deliver(records, options.mailer, { namespace, tenant: name, record, messageId }, options.now, logger);
    if (result.outcome === 'sent') await ctx.recorder.normal(tenant, 'ReportSent', `backup report ${period.id} sent to ${record.recipients.length} contact(s); copy in ConfigMap ${namespace}/${recordName(period)}`);
    if (result.outcome === 'failed') {
      await ctx.recorder.warning(tenant, 'ReportFailed', `backup report ${period.id} not sent (attempt ${result.attempt} of ${MAX_ATTEMPTS}): ${result.error}`);
      return wakeAt(now.getTime() + RETRY_AFTER_MS);
    }
    return wakeAt(result.outcome === 'taken' ? now.getTime() + Math.min(STALE_CLAIM_MS, DAY_MS) : nextEndMs);
  };

  const controller = new Controller({ name: 'reports', concurrency: 1, logger: ctx.logger, metrics: ctx.metrics, reconcile });
  controller.watch(tenants, (event) => (event.type === 'deleted' ? [] : [objectKey(event.object)]));
  // Watched only so the workers wait for these caches: a report is composed from them, on the tenant's timer.
  controller.watch(spaces, () => []);
  controller.watch(endpoints, () => []);
  return controller;
}
