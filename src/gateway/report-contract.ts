/**
 * What the gateway reports back (issue: reports for the operator, S4 summaries, S9 usage, S10 metering,
 * S15 kinds). `GET /v1/report` answers with a GatewayReport, authorised by the operator's bearer token
 * (checked against `reportTokenHash` of the access configuration). The operator imports these types
 * to surface the facts into BackupSpace and Endpoint status. The same facts are Prometheus metrics on
 * `/metrics` (metrics.ts).
 *
 * Sizes are plaintext bytes as clients wrote them (what the quota counts), not bytes on disk.
 */

import type { CustomerKeyRecord } from './access-config.ts';

/** Version of this document's shape; bump on incompatible change. */
export const GATEWAY_REPORT_VERSION = 1;

/** restic's file types. */
export type ReportedFileType = 'config' | 'data' | 'keys' | 'locks' | 'snapshots' | 'index';

export interface ObjectTally {
  objects: number;
  bytes: number;
}

export interface GatewayReport {
  version: typeof GATEWAY_REPORT_VERSION;
  /** When the report was made (RFC 3339). */
  generatedAt: string;
  gateway: {
    /** Process start (RFC 3339). */
    startedAt: string;
    /** SHA-256 of the access configuration in force, to tell whether a change reached the gateway. */
    configDigest: string;
    /** 'ready' serves data; 'sealed' waits for the customer key; 'key-missing'/'key-mismatch' are faults. */
    dataKeyState: 'ready' | 'sealed' | 'key-missing' | 'key-mismatch';
    /**
     * Every replica of the space as this one sees it (itself included), when it knows its peers:
     * e.g. total 2, sealed 1 — "1 of 2 replicas sealed". Unreachable replicas are counted apart.
     */
    replicas?: { total: number; sealed: number; unreachable: number };
  };
  space: {
    namespace: string;
    name: string;
    uid: string;
    quotaBytes: number;
    /** Everything stored in the space, including repositories of endpoints no longer configured. */
    usedBytes: number;
    objects: number;
    appendOnly: boolean;
    encryptAtRest: boolean;
  };
  endpoints: EndpointReport[];
  /**
   * A customer key record the customer set or changed through this gateway (POST /v1/password) and
   * the configuration does not carry yet: the operator stores it in the space's key Secret.
   */
  customerKey?: { version: number; keyId: string; record: CustomerKeyRecord };
  /** Counters since the process started. */
  counters: {
    requests: number;
    quotaRefusals: number;
    authFailures: number;
  };
}

export interface EndpointReport {
  name: string;
  repository: string;
  enabled: boolean;
  /** The repository has a config file (restic init happened). */
  initialized: boolean;
  bytesStored: number;
  objects: number;
  byType: Record<ReportedFileType, ObjectTally>;
  /**
   * S15 kinds, classified by what the server can see: data packs stored up to the repository's first
   * snapshot are the full backup, later packs incremental; everything else is metadata.
   */
  byKind: { full: ObjectTally; incremental: ObjectTally; metadata: ObjectTally };
  snapshots: number;
  /** Time the newest snapshot object was stored, i.e. the last successful backup; null if none. */
  lastBackupAt: string | null;
  /** Uploads of this endpoint refused with 507 (quota) since the process started. */
  quotaRefusals: number;
  /** User-Agent of the endpoint's backup client at its last authenticated request (S3), e.g. `restic/0.14.0`. */
  agent?: string | null;
}
