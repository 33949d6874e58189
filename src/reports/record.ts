/**
 * The report record: a ConfigMap `backup-report-<period id>` in the tenant's namespace that is at
 * once the claim that makes a report go out once, the record of what was sent (state, message id,
 * recipients, when), and the copy of the report the tenant's own people read (report.txt,
 * report.html). The API server holds it, so it survives restarts and leader changes.
 *
 * Exactly once, as far as SMTP allows: a report is sent only by whoever CREATED the record (a create
 * that finds it is a 409: someone claimed it first), or took it over with an update on the
 * resourceVersion it read (two takers: one wins, the other gets a 409). A process that dies between
 * its claim and recording `sent` leaves a record in `sending`: after `STALE_CLAIM_MS` it is taken
 * over and sent again, up to `MAX_ATTEMPTS` attempts in all. So the report goes out at least once
 * unless every attempt dies (the record then says `failed` and nothing more is sent), and twice only
 * if a process died after the relay accepted the message and before it recorded `sent`. A relay
 * that refuses the message leaves `failed`, retried the same way after `RETRY_AFTER_MS`.
 *
 * It holds no secret: what the tenant's viewers may read anyway, and the operator's bookkeeping.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeClient } from '../runtime/kube/client.ts';
import { isConflict, isNotFound } from '../runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath } from '../runtime/kube/resource-ref.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../controllers/labels.ts';
import type { Baseline } from './digest.ts';
import type { ReportPeriod } from './period.ts';

export const REPORT_LABEL = 'tenantbackup.io/report-period';
export const STALE_CLAIM_MS = 10 * 60_000;
export const RETRY_AFTER_MS = 5 * 60_000;
export const MAX_ATTEMPTS = 3;

export type RecordState = 'sending' | 'sent' | 'failed';

export interface ReportRecord {
  state: RecordState;
  periodId: string;
  periodKind: ReportPeriod['kind'];
  periodEnd: string;
  /** When the current attempt began. */
  claimedAt: string;
  claimedBy: string;
  attempts: number;
  recipients: string[];
  subject: string;
  text: string;
  html: string;
  baseline: Baseline;
  sentAt?: string;
  messageId?: string;
  /** Why the last attempt failed (never a credential). */
  error?: string;
}

export interface StoredRecord {
  record: ReportRecord;
  resourceVersion: string;
}

export const recordName = (period: { id: string }): string => `backup-report-${period.id}`;

export function toConfigMap(name: string, namespace: string, tenant: string, r: ReportRecord, resourceVersion?: string): V1ConfigMap {
  const optional = (key: string, value: string | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: tenant, [REPORT_LABEL]: r.periodKind },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: {
      state: r.state,
      periodId: r.periodId,
      periodKind: r.periodKind,
      periodEnd: r.periodEnd,
      claimedAt: r.claimedAt,
      claimedBy: r.claimedBy,
      attempts: String(r.attempts),
      recipients: r.recipients.join(', '),
      subject: r.subject,
      'report.txt': r.text,
      'report.html': r.html,
      'baseline.json': JSON.stringify(r.baseline),
      ...optional('sentAt', r.sentAt),
      ...optional('messageId', r.messageId),
      ...optional('error', r.error),
    },
  };
}

export function parseRecord(configMap: V1ConfigMap): ReportRecord {
  const d = configMap.data ?? {};
  let baseline: Baseline = { endpoints: {}, spaces: {} };
  try {
    baseline = JSON.parse(d['baseline.json'] ?? '') as Baseline;
  } catch {
    // An unreadable baseline counts the next period from zero rather than stopping reports.
  }
  return {
    state: (d.state ?? 'failed') as RecordState,
    periodId: d.periodId ?? '',
    periodKind: (d.periodKind ?? 'Monthly') as ReportPeriod['kind'],
    periodEnd: d.periodEnd ?? '',
    claimedAt: d.claimedAt ?? '',
    claimedBy: d.claimedBy ?? '',
    attempts: Number(d.attempts ?? '0') || 0,
    recipients: (d.recipients ?? '').split(', ').filter(Boolean),
    subject: d.subject ?? '',
    text: d['report.txt'] ?? '',
    html: d['report.html'] ?? '',
    baseline,
    ...(d.sentAt ? { sentAt: d.sentAt } : {}),
    ...(d.messageId ? { messageId: d.messageId } : {}),
    ...(d.error ? { error: d.error } : {}),
  };
}

/**
 * Whether a record someone else left may be taken over at `nowMs`: a claim whose process seems to
 * have died, or a failed attempt due for its retry, while attempts remain. Pure.
 */
export function mayTakeOver(record: ReportRecord, nowMs: number): boolean {
  if (record.state === 'sent' || record.attempts >= MAX_ATTEMPTS) return false;
  const since = nowMs - Date.parse(record.claimedAt);
  return record.state === 'sending' ? !(since < STALE_CLAIM_MS) : !(since < RETRY_AFTER_MS);
}

export class ReportRecords {
  private readonly client: KubeClient;

  constructor(client: KubeClient) {
    this.client = client;
  }

  async read(namespace: string, name: string): Promise<StoredRecord | undefined> {
    try {
      const configMap = await this.client.request<V1ConfigMap>({ method: 'GET', path: objectPath(K8S.ConfigMap, name, namespace) });
      return { record: parseRecord(configMap), resourceVersion: configMap.metadata?.resourceVersion ?? '' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Claims the period by creating its record; undefined when it already exists (claimed or sent). */
  async claim(namespace: string, tenant: string, record: ReportRecord): Promise<StoredRecord | undefined> {
    try {
      const created = await this.client.request<V1ConfigMap>({ method: 'POST', path: collectionPath(K8S.ConfigMap, namespace), body: toConfigMap(recordName({ id: record.periodId }), namespace, tenant, record) });
      return { record, resourceVersion: created.metadata?.resourceVersion ?? '' };
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /** Replaces the record if it is still at the version read; undefined when someone moved it first. */
  async replace(namespace: string, tenant: string, stored: StoredRecord, record: ReportRecord): Promise<StoredRecord | undefined> {
    try {
      const updated = await this.client.request<V1ConfigMap>({ method: 'PUT', path: objectPath(K8S.ConfigMap, recordName({ id: record.periodId }), namespace), body: toConfigMap(recordName({ id: record.periodId }), namespace, tenant, record, stored.resourceVersion) });
      return { record, resourceVersion: updated.metadata?.resourceVersion ?? '' };
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /** The baseline of the newest record sent before `beforeMs` (the previous report), if any. */
  async previousBaseline(namespace: string, beforeMs: number): Promise<Baseline | undefined> {
    const list = await this.client.request<{ items: V1ConfigMap[] }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, namespace), query: { labelSelector: REPORT_LABEL } });
    const sent = list.items.map(parseRecord).filter((r) => r.state === 'sent' && Date.parse(r.periodEnd) < beforeMs);
    sent.sort((a, b) => Date.parse(b.periodEnd) - Date.parse(a.periodEnd));
    return sent[0]?.baseline;
  }
}
