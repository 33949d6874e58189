/**
 * Builds the GatewayReport (report-contract.ts) from the object index, the configuration in force and
 * the request counters. Metrics and the human usage route read the same figures from here, so every
 * way of asking gives the same answer.
 */
import type { AccessConfiguration } from './config.ts';
import type { VaultState } from './key-vault.ts';
import type { ObjectIndex } from './object-index.ts';
import type { PeerOutcome } from './peers.ts';
import { GATEWAY_REPORT_VERSION, type EndpointReport, type GatewayReport } from './report-contract.ts';

/** Counters kept since the process started. */
export class GatewayCounters {
  requests = 0;
  authFailures = 0;
  readonly quotaRefusals = new Map<string, number>();
  /** User-Agent of each endpoint's backup client at its last authenticated request (S3: agent versions). */
  readonly agents = new Map<string, string>();

  recordAgent(endpoint: string, userAgent: string | undefined): void {
    // Bounded: a header is client-controlled.
    if (userAgent) this.agents.set(endpoint, userAgent.slice(0, 128));
  }

  get totalQuotaRefusals(): number {
    let total = 0;
    for (const count of this.quotaRefusals.values()) total += count;
    return total;
  }
}

export interface ReportInputs {
  config: AccessConfiguration;
  index: ObjectIndex;
  /** Bytes stored in the space as the shared quota ledger counts them (every replica's writes); default: this replica's index. */
  usedBytes?: number;
  dataKeyState: VaultState;
  counters: GatewayCounters;
  startedAt: Date;
  /** What the other replicas said of their state, when this replica knows them. */
  peers?: readonly PeerOutcome[];
  now?: Date;
}

/** This replica and its peers, counted: how many are sealed, how many did not answer. */
export function replicaCounts(selfState: VaultState, peers: readonly PeerOutcome[]): { total: number; sealed: number; unreachable: number } {
  const sealed = (selfState === 'sealed' ? 1 : 0) + peers.filter((p) => p.outcome === 'sealed').length;
  return { total: 1 + peers.length, sealed, unreachable: peers.filter((p) => p.outcome === 'unreachable' || p.outcome === 'refused').length };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function endpointReports(inputs: Pick<ReportInputs, 'config' | 'index' | 'counters'>): EndpointReport[] {
  return inputs.config.access.endpoints.map((endpoint) => {
    const stats = inputs.index.stats(endpoint.repository);
    return {
      name: endpoint.name,
      repository: endpoint.repository,
      enabled: endpoint.enabled,
      initialized: stats.byType.config.objects > 0,
      bytesStored: stats.bytes,
      objects: stats.objects,
      byType: stats.byType,
      byKind: stats.byKind,
      snapshots: stats.snapshotCount,
      lastBackupAt: iso(stats.lastSnapshotAtMs),
      quotaRefusals: inputs.counters.quotaRefusals.get(endpoint.name) ?? 0,
      agent: inputs.counters.agents.get(endpoint.name) ?? null,
    };
  });
}

export function buildReport(inputs: ReportInputs): GatewayReport {
  const { access, digest } = inputs.config;
  return {
    version: GATEWAY_REPORT_VERSION,
    generatedAt: (inputs.now ?? new Date()).toISOString(),
    gateway: {
      startedAt: inputs.startedAt.toISOString(),
      configDigest: digest,
      dataKeyState: inputs.dataKeyState,
      ...(inputs.peers === undefined ? {} : { replicas: replicaCounts(inputs.dataKeyState, inputs.peers) }),
    },
    space: {
      namespace: access.space.namespace,
      name: access.space.name,
      uid: access.space.uid,
      quotaBytes: access.space.quotaBytes,
      usedBytes: inputs.usedBytes ?? inputs.index.totalBytes,
      objects: inputs.index.totalObjects,
      appendOnly: access.space.appendOnly,
      encryptAtRest: access.space.encryptAtRest,
    },
    endpoints: endpointReports(inputs),
    counters: {
      requests: inputs.counters.requests,
      quotaRefusals: inputs.counters.totalQuotaRefusals,
      authFailures: inputs.counters.authFailures,
    },
  };
}
