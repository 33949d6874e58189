/**
 * What a tenant's backup report says (S4, S15, S16, S3), computed from facts the operator already
 * holds: the Tenant, its BackupSpaces' and Endpoints' status, and the gateways' last reports. "Added
 * in the period" is the difference between the totals now and the totals the previous report
 * recorded (its `baseline`); the first report counts everything stored so far. Gateway counters
 * (refusals, authentication failures) count since the gateway process started: one lower than the
 * baseline means the gateway restarted, and the count is taken as it stands. Pure.
 */
import { parseQuantity } from '../admission/quantity.ts';
import type { BackupSpace, Endpoint, Tenant } from '../api/types.ts';
import type { EndpointReport, GatewayReport } from '../gateway/report-contract.ts';
import { findCondition } from '../runtime/conditions.ts';
import { BACKUP_OVERDUE } from '../controllers/endpoint/freshness.ts';
import type { ReportPeriod } from './period.ts';

export interface Bytes3 { full: number; incremental: number; metadata: number }

/** The totals a report records, from which the next one computes what was added. */
export interface Baseline {
  endpoints: Record<string, { snapshots: number; bytes: Bytes3; quotaRefusals: number }>;
  spaces: Record<string, { quotaRefusals: number; authFailures: number }>;
}

export interface EndpointDigest {
  name: string;
  hostname?: string;
  space: string;
  lastBackup?: string;
  snapshotsAdded: number;
  snapshotsTotal: number;
  bytesAdded: Bytes3;
  bytesStored: number;
  quotaRefusals: number;
  /** True: no backup within its expected interval; undefined: not checked. */
  overdue?: boolean;
  agent?: string;
  agentOutdated: boolean;
  /** The gateway's figures were not available: counts are zero, not measured. */
  unmeasured: boolean;
}

export interface SpaceDigest {
  name: string;
  usedBytes: number;
  quotaBytes: number;
  quotaRefusals: number;
  authFailures: number;
}

export interface Digest {
  tenant: string;
  displayName: string;
  period: { kind: ReportPeriod['kind']; id: string; start: string; end: string };
  generatedAt: string;
  spaces: SpaceDigest[];
  endpoints: EndpointDigest[];
  overdue: string[];
  outdatedAgents: string[];
  storage: { usedBytes: number; quotaBytes: number };
  baseline: Baseline;
}

export interface DigestFacts {
  tenant: Tenant;
  spaces: readonly BackupSpace[];
  endpoints: readonly Endpoint[];
  /** The gateways' last reports by space name. */
  gatewayReports: ReadonlyMap<string, GatewayReport>;
  previous?: Baseline;
  period: ReportPeriod;
  now: Date;
}

const ZERO: Bytes3 = { full: 0, incremental: 0, metadata: 0 };
const iso = (ms: number) => new Date(ms).toISOString();
/** A counter's growth since the baseline; a counter below it was reset (the gateway restarted). */
const grown = (now: number, before: number | undefined) => (before === undefined || now < before ? now : now - before);
const bytes = (q: string | number | undefined): number => {
  if (q === undefined) return 0;
  try {
    return Number(parseQuantity(q));
  } catch {
    return 0;
  }
};

function endpointDigest(endpoint: Endpoint, report: EndpointReport | undefined, previous: Baseline['endpoints'][string] | undefined): EndpointDigest {
  const overdue = findCondition(endpoint.status?.conditions, BACKUP_OVERDUE)?.status;
  const kinds: Bytes3 = report
    ? { full: report.byKind.full.bytes, incremental: report.byKind.incremental.bytes, metadata: report.byKind.metadata.bytes }
    : ZERO;
  const before = previous?.bytes;
  const snapshots = report?.snapshots ?? 0;
  return {
    name: endpoint.metadata.name ?? '',
    ...(endpoint.spec.hostname ? { hostname: endpoint.spec.hostname } : {}),
    space: endpoint.spec.spaceRef.name,
    ...(endpoint.status?.lastBackupTime ? { lastBackup: endpoint.status.lastBackupTime } : report?.lastBackupAt ? { lastBackup: report.lastBackupAt } : {}),
    snapshotsAdded: grown(snapshots, previous?.snapshots),
    snapshotsTotal: snapshots,
    // Stored bytes only grow between prunes; after a prune the kind is counted as it stands.
    bytesAdded: { full: grown(kinds.full, before?.full), incremental: grown(kinds.incremental, before?.incremental), metadata: grown(kinds.metadata, before?.metadata) },
    bytesStored: report?.bytesStored ?? endpoint.status?.bytesStored ?? 0,
    quotaRefusals: grown(report?.quotaRefusals ?? 0, previous?.quotaRefusals),
    ...(overdue === 'True' ? { overdue: true } : overdue === 'False' ? { overdue: false } : {}),
    ...(endpoint.status?.agentVersion ?? report?.agent ? { agent: endpoint.status?.agentVersion ?? report?.agent ?? '' } : {}),
    agentOutdated: endpoint.status?.agentOutdated === true,
    unmeasured: report === undefined,
  };
}

export function computeDigest(facts: DigestFacts): Digest {
  const { tenant, period } = facts;
  const byName = <T extends { metadata: { name?: string } }>(items: readonly T[]) => [...items].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const baseline: Baseline = { endpoints: {}, spaces: {} };

  const spaces = byName(facts.spaces).map((space): SpaceDigest => {
    const name = space.metadata.name ?? '';
    const report = facts.gatewayReports.get(name);
    const counters = report?.counters ?? { quotaRefusals: 0, authFailures: 0 };
    baseline.spaces[name] = { quotaRefusals: counters.quotaRefusals, authFailures: counters.authFailures };
    const before = facts.previous?.spaces[name];
    return {
      name,
      usedBytes: report?.space.usedBytes ?? space.status?.usedBytes ?? 0,
      quotaBytes: report?.space.quotaBytes ?? bytes(space.spec.size),
      quotaRefusals: grown(counters.quotaRefusals, before?.quotaRefusals),
      authFailures: grown(counters.authFailures, before?.authFailures),
    };
  });

  const endpoints = byName(facts.endpoints).map((endpoint) => {
    const name = endpoint.metadata.name ?? '';
    const report = facts.gatewayReports.get(endpoint.spec.spaceRef.name)?.endpoints.find((e) => e.name === name);
    if (report) {
      baseline.endpoints[name] = {
        snapshots: report.snapshots,
        bytes: { full: report.byKind.full.bytes, incremental: report.byKind.incremental.bytes, metadata: report.byKind.metadata.bytes },
        quotaRefusals: report.quotaRefusals,
      };
    } else if (facts.previous?.endpoints[name]) {
      // Not measured this time: keep the last known totals, so the next report does not count them twice.
      baseline.endpoints[name] = facts.previous.endpoints[name];
    }
    return endpointDigest(endpoint, report, facts.previous?.endpoints[name]);
  });

  return {
    tenant: tenant.metadata.name ?? '',
    displayName: tenant.spec.displayName,
    period: { kind: period.kind, id: period.id, start: iso(period.startMs), end: iso(period.endMs) },
    generatedAt: facts.now.toISOString(),
    spaces,
    endpoints,
    overdue: endpoints.filter((e) => e.overdue === true).map((e) => e.name),
    outdatedAgents: endpoints.filter((e) => e.agentOutdated).map((e) => e.name),
    storage: { usedBytes: spaces.reduce((sum, s) => sum + s.usedBytes, 0), quotaBytes: bytes(tenant.spec.quotas.storage) },
    baseline,
  };
}
