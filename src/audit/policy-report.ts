/**
 * The PolicyReport of the Kubernetes Policy working group (`wgpolicyk8s.io/v1alpha2`), the shape
 * Kyverno and Policy Reporter read: one report per tenant in its namespace, one result per control.
 * Field names follow the upstream Go types (policy-report-api v1alpha2); nothing here is ours.
 */
import { isDeepStrictEqual } from 'node:util';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ResourceRef } from '../runtime/kube/resource-ref.ts';

export const POLICY_REPORT: ResourceRef = { group: 'wgpolicyk8s.io', version: 'v1alpha2', kind: 'PolicyReport', plural: 'policyreports', namespaced: true };

/** The `policy` of every result, and the report's `source`. */
export const AUDIT_POLICY = 'tenant-backup';
export const AUDIT_SOURCE = 'tenant-backup-operator';
export const AUDIT_REPORT_NAME = 'tenant-backup-audit';

export type PolicyResultValue = 'pass' | 'fail' | 'warn' | 'error' | 'skip';
export type PolicySeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** corev1.ObjectReference, the fields we fill. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
}

export interface PolicyReportResult {
  source?: string;
  policy: string;
  rule?: string;
  resources?: ObjectReference[];
  message?: string;
  result?: PolicyResultValue;
  scored?: boolean;
  properties?: Record<string, string>;
  /** metav1.Timestamp: seconds and nanos, not an RFC 3339 string. */
  timestamp?: { seconds: number; nanos: number };
  category?: string;
  severity?: PolicySeverity;
}

export interface PolicyReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export interface PolicyReport {
  apiVersion: 'wgpolicyk8s.io/v1alpha2';
  kind: 'PolicyReport';
  metadata: V1ObjectMeta;
  scope?: ObjectReference;
  summary?: PolicyReportSummary;
  results?: PolicyReportResult[];
}

export function summarize(results: readonly PolicyReportResult[]): PolicyReportSummary {
  const summary: PolicyReportSummary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const { result } of results) if (result) summary[result] += 1;
  return summary;
}

export function timestampOf(date: Date): { seconds: number; nanos: number } {
  return { seconds: Math.floor(date.getTime() / 1000), nanos: 0 };
}

/**
 * Results equal but for when they were found: the report is rewritten only when a control's state
 * changes, so a resync of an unchanged tenant writes nothing and the timestamps say since when a
 * result has held.
 */
export function sameResults(a: readonly PolicyReportResult[] | undefined, b: readonly PolicyReportResult[] | undefined): boolean {
  const strip = (results: readonly PolicyReportResult[] | undefined) => JSON.parse(JSON.stringify((results ?? []).map(({ timestamp: _timestamp, ...rest }) => rest))) as unknown;
  return isDeepStrictEqual(strip(a), strip(b));
}

/** Keeps the timestamp of each result that has not changed since the stored report, so an unchanged result says since when it holds. */
export function carryTimestamps(results: readonly PolicyReportResult[], stored: readonly PolicyReportResult[] | undefined): PolicyReportResult[] {
  const key = (r: PolicyReportResult) => canonical({ ...r, timestamp: undefined });
  const before = new Map((stored ?? []).map((r) => [key(r), r.timestamp]));
  return results.map((r) => {
    const kept = before.get(key(r));
    return kept ? { ...r, timestamp: kept } : r;
  });
}

/** JSON with keys sorted: the API server hands back stored maps in its own key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}
