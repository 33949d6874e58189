/**
 * One audit of one tenant: gather the facts, evaluate them, and server-side apply the tenant's
 * PolicyReport only when a result changed (no churn on resync; unchanged results keep the time
 * they were first found).
 */
import type { Tenant } from '../api/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../controllers/labels.ts';
import type { TenantSettings } from '../controllers/tenant/desired.ts';
import { applyObject, getObject, type ApplyObject } from '../runtime/apply.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { evaluateAudit } from './evaluate.ts';
import type { AuditFacts } from './facts.ts';
import { gatherFacts, type ClusterLookups } from './gather.ts';
import { AUDIT_REPORT_NAME, AUDIT_SOURCE, carryTimestamps, POLICY_REPORT, sameResults, summarize, type PolicyReport, type PolicyReportResult } from './policy-report.ts';

/** On the report: the facts its results were decided on, as JSON (no secret is among them). */
export const FACTS_ANNOTATION = 'tenantbackup.io/audit-facts';
/** Annotations share 256 KiB per object; facts past this are left out and the annotation says so. */
const MAX_FACTS_BYTES = 200 * 1024;

function factsAnnotation(facts: AuditFacts): string {
  const text = JSON.stringify(facts);
  return Buffer.byteLength(text) <= MAX_FACTS_BYTES ? text : JSON.stringify({ omitted: `facts of ${Buffer.byteLength(text)} bytes exceed ${MAX_FACTS_BYTES}`, collectedAt: facts.collectedAt });
}

export function policyReportOf(tenant: Tenant, namespace: string, results: PolicyReportResult[], facts: AuditFacts): PolicyReport {
  return {
    apiVersion: 'wgpolicyk8s.io/v1alpha2',
    kind: 'PolicyReport',
    metadata: {
      name: AUDIT_REPORT_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: tenant.metadata.name ?? '' },
      annotations: { 'tenantbackup.io/source': AUDIT_SOURCE, [FACTS_ANNOTATION]: factsAnnotation(facts) },
    },
    scope: { apiVersion: tenant.apiVersion, kind: 'Tenant', name: tenant.metadata.name ?? '', ...(tenant.metadata.uid ? { uid: tenant.metadata.uid } : {}) },
    summary: summarize(results),
    results,
  };
}

export interface AuditOutcome {
  facts: AuditFacts;
  report?: PolicyReport;
  /** A write was sent (the results changed, or there was no report). */
  written: boolean;
}

export async function auditTenant(client: KubeClient, tenant: Tenant, settings: TenantSettings, now: Date, lookups?: ClusterLookups): Promise<AuditOutcome> {
  const facts = await gatherFacts(client, tenant, settings, now, lookups);
  // No namespace: nowhere to publish (a tenant being built, or gone after termination).
  if (!facts.namespacePresent) return { facts, written: false };
  const namespace = facts.tenant.namespace;
  const stored = await getObject<PolicyReport>(client, POLICY_REPORT, AUDIT_REPORT_NAME, namespace);
  const results = carryTimestamps(evaluateAudit(facts), stored?.results);
  if (stored && sameResults(stored.results, results)) return { facts, report: stored, written: false };
  const body: ApplyObject = { ...policyReportOf(tenant, namespace, results, facts) };
  const report = await applyObject<PolicyReport>(client, POLICY_REPORT, body);
  return { facts, report, written: true };
}
