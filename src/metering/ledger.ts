/**
 * The usage ledger: one ConfigMap per tenant and UTC month, `usage-<tenant>-<YYYY-MM>`, in the
 * operator's namespace. Its data holds `state.json` (the month's running state, accumulate.ts) and
 * one key per closed period, the period's CloudEvent (events.ts): `hour-<start>.json` for each
 * started hour, `month-<YYYY-MM>.json` once the month has ended — the monthly statement.
 *
 * Why the operator's namespace and not the tenant's: the ledger is the provider's billing evidence.
 * It must outlive the tenant (a terminated tenant's namespace is deleted, its last month still has to
 * be billed) and stay out of reach of the tenant's own people, who may edit ConfigMaps in their
 * namespace.
 *
 * Append only: a write adds the records of periods that closed since the state it replaces and the
 * new state, under the resourceVersion it read (a second writer gets a 409 and re-reads). A record
 * already stored is never changed, a period already closed gets no new record and a closed month's
 * ConfigMap is not written again: ledgerData refuses, whoever calls it.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeClient } from '../runtime/kube/client.ts';
import { isConflict, isNotFound } from '../runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath } from '../runtime/kube/resource-ref.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../controllers/labels.ts';
import type { Advanced, MonthState, UsageRecord } from './accumulate.ts';
import { stateFromJson, stateToJson } from './codec.ts';
import { recordKey, usageEvent, type UsageEvent } from './events.ts';

export const USAGE_MONTH_LABEL = 'tenantbackup.io/usage-month';
/** open while the month runs, closed once its statement is written: the runner lists the open ones at start. */
export const USAGE_STATE_LABEL = 'tenantbackup.io/usage-state';
export const STATE_KEY = 'state.json';
const RECORD_KEY = /^(hour|month)-[0-9T-]+\.json$/;

export const ledgerName = (tenant: string, month: string): string => `usage-${tenant}-${month}`;

export class LedgerConflict extends Error {}

const monthOf = (c: V1ConfigMap): string => c.metadata?.labels?.[USAGE_MONTH_LABEL] ?? '';

/**
 * The ConfigMap data that replaces `existing` (undefined: a new month) with `state` and the records
 * that closed on the way to it. Pure; throws rather than rewrite a closed period.
 */
export function ledgerData(existing: Readonly<Record<string, string>> | undefined, state: MonthState, records: readonly UsageRecord[]): Record<string, string> {
  const data: Record<string, string> = { ...existing };
  const before = existing?.[STATE_KEY] !== undefined ? stateFromJson(existing[STATE_KEY]) : undefined;
  if (before?.closed) throw new Error(`usage ledger ${state.tenant}/${state.month} is closed: its records are final`);
  if (before && (before.month !== state.month || before.tenant !== state.tenant)) throw new Error(`usage ledger ${before.tenant}/${before.month} cannot hold ${state.tenant}/${state.month}`);
  if (before && state.closedUntilS < before.closedUntilS) throw new Error(`usage ledger ${state.tenant}/${state.month}: the new state reopens closed hours`);
  for (const record of records) {
    const key = recordKey(record);
    const text = JSON.stringify(usageEvent(state.tenant, record));
    if (data[key] !== undefined && data[key] !== text) throw new Error(`usage ledger ${state.tenant}/${state.month}: ${key} is closed and differs from the record written`);
    if (data[key] === undefined && record.kind === 'hour' && before && record.startS < before.closedUntilS) throw new Error(`usage ledger ${state.tenant}/${state.month}: the hour of ${key} was closed without it`);
    data[key] = text;
  }
  data[STATE_KEY] = stateToJson(state);
  return data;
}

export interface StoredLedger {
  readonly state: MonthState;
  readonly resourceVersion: string;
}

function toConfigMap(namespace: string, state: MonthState, data: Record<string, string>, resourceVersion?: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ledgerName(state.tenant, state.month),
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: state.tenant, [USAGE_MONTH_LABEL]: state.month, [USAGE_STATE_LABEL]: state.closed ? 'closed' : 'open' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data,
  };
}

/** The records of a ledger ConfigMap, in period order (hours, then the month). */
export function recordsOf(configMap: V1ConfigMap): UsageEvent[] {
  const data = configMap.data ?? {};
  const keys = Object.keys(data).filter((k) => RECORD_KEY.test(k)).sort((a, b) => (a.startsWith('month') === b.startsWith('month') ? a.localeCompare(b) : a.startsWith('month') ? 1 : -1));
  return keys.map((k) => JSON.parse(data[k] ?? '') as UsageEvent);
}

export class UsageLedger {
  private readonly client: KubeClient;
  private readonly namespace: string;

  constructor(client: KubeClient, namespace: string) {
    this.client = client;
    this.namespace = namespace;
  }

  /** The ledger ConfigMaps, of one tenant or all, oldest month first. */
  async list(tenant?: string): Promise<V1ConfigMap[]> {
    const labelSelector = tenant ? `${TENANT_LABEL}=${tenant},${USAGE_MONTH_LABEL}` : USAGE_MONTH_LABEL;
    const list = await this.client.request<{ items: V1ConfigMap[] }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, this.namespace), query: { labelSelector } });
    return list.items.sort((a, b) => monthOf(a).localeCompare(monthOf(b)));
  }

  /** Tenants whose newest stored month is still open (a gone tenant's last month runs to its end). */
  async openTenants(): Promise<string[]> {
    const tenants = new Set<string>();
    // In pages: each open month carries its closed hours' records, up to a few hundred KiB.
    let token: string | undefined;
    do {
      const page = await this.client.request<{ items: V1ConfigMap[]; metadata?: { continue?: string } }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, this.namespace), query: { labelSelector: `${USAGE_STATE_LABEL}=open`, limit: 50, continue: token } });
      for (const c of page.items) {
        const tenant = c.metadata?.labels?.[TENANT_LABEL];
        if (tenant) tenants.add(tenant);
      }
      token = page.metadata?.continue || undefined;
    } while (token);
    return [...tenants];
  }

  /**
   * The tenant's newest month as stored: its open one, else (a crash between closing a month and
   * writing the next, or a tenant gone) the newest closed one, from which the next month follows.
   * The open one is read alone: a tenant's older months hold every closed hour's record.
   */
  async newest(tenant: string): Promise<StoredLedger | undefined> {
    const open = await this.client.request<{ items: V1ConfigMap[] }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, this.namespace), query: { labelSelector: `${TENANT_LABEL}=${tenant},${USAGE_STATE_LABEL}=open` } });
    const configMap = open.items.length > 0 ? open.items.sort((a, b) => monthOf(a).localeCompare(monthOf(b))).at(-1) : (await this.list(tenant)).at(-1);
    const text = configMap?.data?.[STATE_KEY];
    if (text === undefined) return undefined;
    return { state: stateFromJson(text), resourceVersion: configMap?.metadata?.resourceVersion ?? '' };
  }

  /**
   * Writes an advance of the tenant's usage: its closed months and its open one, oldest first, so a
   * crash in between leaves a closed month as the newest (the next one follows from it). `stored` is
   * what the caller last read or wrote; another writer since then is a LedgerConflict.
   */
  async save(stored: StoredLedger | undefined, advanced: Advanced): Promise<StoredLedger> {
    let current = stored;
    let last: StoredLedger | undefined;
    for (const state of advanced.states) {
      const records = advanced.records.filter((r) => r.month === state.month).map((r) => r.record);
      last = current && current.state.month === state.month ? await this.replace(current, state, records) : await this.create(state, records);
      current = last;
    }
    if (!last) throw new Error('nothing to save');
    return last;
  }

  private async create(state: MonthState, records: readonly UsageRecord[]): Promise<StoredLedger> {
    try {
      const created = await this.client.request<V1ConfigMap>({ method: 'POST', path: collectionPath(K8S.ConfigMap, this.namespace), body: toConfigMap(this.namespace, state, ledgerData(undefined, state, records)) });
      return { state, resourceVersion: created.metadata?.resourceVersion ?? '' };
    } catch (error) {
      if (isConflict(error)) throw new LedgerConflict(`usage ledger ${ledgerName(state.tenant, state.month)} was created by another writer`);
      throw error;
    }
  }

  private async replace(stored: StoredLedger, state: MonthState, records: readonly UsageRecord[]): Promise<StoredLedger> {
    const name = ledgerName(state.tenant, state.month);
    let existing: V1ConfigMap;
    try {
      existing = await this.client.request<V1ConfigMap>({ method: 'GET', path: objectPath(K8S.ConfigMap, name, this.namespace) });
    } catch (error) {
      if (isNotFound(error)) throw new LedgerConflict(`usage ledger ${name} is gone`);
      throw error;
    }
    if (existing.metadata?.resourceVersion !== stored.resourceVersion) throw new LedgerConflict(`usage ledger ${name} changed since it was read`);
    try {
      const updated = await this.client.request<V1ConfigMap>({ method: 'PUT', path: objectPath(K8S.ConfigMap, name, this.namespace), body: toConfigMap(this.namespace, state, ledgerData(existing.data, state, records), stored.resourceVersion) });
      return { state, resourceVersion: updated.metadata?.resourceVersion ?? '' };
    } catch (error) {
      if (isConflict(error)) throw new LedgerConflict(`usage ledger ${name} changed since it was read`);
      throw error;
    }
  }
}
