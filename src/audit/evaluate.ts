/**
 * Facts → PolicyReport results (S17): one result per control and space, each naming the fact it was
 * decided on, so the auditor reads why and not only whether. Pure: the same facts give the same
 * results, and the report is rewritten only when they change.
 */
import { parseQuantity } from '../admission/quantity.ts';
import { containsDesired } from '../controllers/context.ts';
import type { AuditFacts, SpaceFact } from './facts.ts';
import { AUDIT_POLICY, AUDIT_SOURCE, timestampOf, type ObjectReference, type PolicyReportResult, type PolicyResultValue, type PolicySeverity } from './policy-report.ts';

export const AUDIT_RULES = {
  residency: { category: 'Residency (S7)', severity: 'critical' },
  encryption: { category: 'Encryption (S6, S13)', severity: 'critical' },
  tls: { category: 'Secure protocols (S2)', severity: 'high' },
  'two-factor': { category: 'Two-factor authentication (S12)', severity: 'high' },
  segregation: { category: 'Segregation (S11)', severity: 'high' },
  quotas: { category: 'Quotas (S9, S10)', severity: 'medium' },
  agents: { category: 'Agents up to date (S3)', severity: 'low' },
  termination: { category: 'Termination (S14)', severity: 'medium' },
} as const satisfies Record<string, { category: string; severity: PolicySeverity }>;

export type AuditRule = keyof typeof AUDIT_RULES;

const ACCEPTED_TLS = new Set(['TLSv1.2', 'TLSv1.3']);

interface Outcome {
  result: PolicyResultValue;
  message: string;
  resources?: ObjectReference[];
  properties?: Record<string, string>;
}

function resultOf(rule: AuditRule, outcome: Outcome, at: Date): PolicyReportResult {
  return {
    source: AUDIT_SOURCE,
    policy: AUDIT_POLICY,
    rule,
    result: outcome.result,
    message: outcome.message,
    ...(outcome.resources?.length ? { resources: outcome.resources } : {}),
    ...(outcome.properties ? { properties: outcome.properties } : {}),
    scored: true,
    timestamp: timestampOf(at),
    category: AUDIT_RULES[rule].category,
    severity: AUDIT_RULES[rule].severity,
  };
}

const ref = (apiVersion: string, kind: string, name: string, namespace?: string): ObjectReference => ({ apiVersion, kind, name, ...(namespace ? { namespace } : {}) });

function residency(facts: AuditFacts, space: SpaceFact): Outcome {
  const { tenant } = facts;
  const spaceRef = ref('tenantbackup.io/v1alpha1', 'BackupSpace', space.name, tenant.namespace);
  const pods = facts.gatewayPods.filter((p) => p.space === space.name);
  const bound = pods.filter((p) => p.nodeName);
  if (bound.length === 0) return { result: 'skip', message: `space ${space.name}: no gateway pod is bound to a node yet`, resources: [spaceRef] };
  const allowed = (country: string | undefined) => country !== undefined
    && (tenant.countries === undefined || tenant.countries.includes(country))
    && (tenant.datacenters === undefined || space.datacenterCountry === country);
  const nodes = new Map(facts.nodes.map((n) => [n.name, n]));
  const placed = bound.map((p) => ({ pod: p, country: nodes.get(p.nodeName ?? '')?.country }));
  const foreign = placed.filter(({ country }) => !allowed(country));
  const where = placed.map(({ pod, country }) => `${pod.name} on ${pod.nodeName} (${country ?? 'no country label'})`).join(', ');
  const resources = [spaceRef, ...placed.map(({ pod }) => ref('v1', 'Pod', pod.name, tenant.namespace)), ...placed.map(({ pod }) => ref('v1', 'Node', pod.nodeName ?? ''))];
  const promise = [tenant.countries ? `countries ${tenant.countries.join(', ')}` : undefined, tenant.datacenters ? `datacenters ${tenant.datacenters.join(', ')} (${space.datacenterCountry ?? 'country unknown'})` : undefined].filter(Boolean).join('; ');
  if (foreign.length) {
    return { result: 'fail', message: `space ${space.name}: gateway pods bound outside the residency (${promise}): ${foreign.map(({ pod, country }) => `${pod.name} on ${pod.nodeName} (${country ?? 'no country label'})`).join(', ')}`, resources };
  }
  return { result: 'pass', message: `space ${space.name}: every gateway pod is bound within the residency (${promise}): ${where}`, resources };
}

function encryption(facts: AuditFacts, space: SpaceFact): Outcome {
  const { tenant } = facts;
  const resources = [ref('tenantbackup.io/v1alpha1', 'BackupSpace', space.name, tenant.namespace), ref('v1', 'Secret', `${space.name}-key`, tenant.namespace)];
  const problems: string[] = [];
  const key = space.keySecret;
  const rendered = space.rendered;
  if (!key) problems.push('its key Secret is missing');
  else if (key.custody !== tenant.keyCustody && !(tenant.keyCustody === 'provider' && key.custody === 'customer')) problems.push(`its key is wrapped for ${key.custody ?? 'no'} custody, the contract says ${tenant.keyCustody}`);
  if (!rendered) problems.push('its gateway configuration is missing');
  else {
    if (!rendered.encryptAtRest) problems.push('at-rest encryption is off in the gateway configuration');
    if (key && rendered.keyCustody !== key.custody) problems.push(`the gateway is configured for ${rendered.keyCustody} custody, the key Secret for ${key.custody ?? 'none'}`);
    if (key?.keyId && rendered.keyId && rendered.keyId !== key.keyId) problems.push(`the gateway names key ${rendered.keyId}, the key Secret holds ${key.keyId}`);
  }
  const sealed = key?.custody === 'customer' && !key.keyId;
  if (problems.length) return { result: 'fail', message: `space ${space.name}: ${problems.join('; ')}`, resources };
  if (sealed) return { result: 'warn', message: `space ${space.name}: customer custody, no key yet (the customer has not set the space password)`, resources };
  return { result: 'pass', message: `space ${space.name}: ${key?.custody} custody, at-rest encryption on, key ${key?.keyId} present in its Secret and named by the gateway`, resources };
}

function tls(facts: AuditFacts, space: SpaceFact): Outcome {
  const resources = [ref('v1', 'Secret', `${space.name}-gateway-tls`, facts.tenant.namespace)];
  if (!ACCEPTED_TLS.has(space.tls.minVersion)) return { result: 'fail', message: `space ${space.name}: the gateway accepts ${space.tls.minVersion}, older than TLS 1.2`, resources };
  if (!space.tls.certificateSecret) return { result: 'fail', message: `space ${space.name}: the gateway's serving certificate Secret is missing`, resources };
  return { result: 'pass', message: `space ${space.name}: the gateway serves ${space.tls.minVersion} or newer only, with its certificate Secret present`, resources };
}

function twoFactor(facts: AuditFacts): Outcome {
  const { tenant } = facts;
  const expected = { Required: 'two-factor', Optional: 'one-factor', Disabled: 'disabled' }[tenant.twoFactor];
  const problems: string[] = [];
  const resources: ObjectReference[] = [];
  for (const space of facts.spaces) {
    if (space.rendered && space.rendered.twoFactorPolicy !== expected) problems.push(`gateway of ${space.name} enforces ${space.rendered.twoFactorPolicy}, the contract says ${tenant.twoFactor}`);
  }
  if (tenant.twoFactor !== 'Disabled') {
    const enrolled = new Set(facts.enrolledUsers);
    const missing = tenant.users.filter((u) => !enrolled.has(u));
    for (const user of missing) resources.push(ref('v1', 'Secret', `user-${user}-2fa`, tenant.namespace));
    if (missing.length) problems.push(`not enrolled: ${missing.join(', ')}`);
    for (const space of facts.spaces) {
      const withoutTotp = (space.rendered?.users ?? []).filter((u) => !u.totp).map((u) => u.name);
      if (withoutTotp.length) problems.push(`gateway of ${space.name} admits ${withoutTotp.join(', ')} without a TOTP secret`);
    }
  }
  if (problems.length) return { result: 'fail', message: problems.join('; '), resources };
  if (tenant.twoFactor === 'Disabled') return { result: 'pass', message: 'two-factor Disabled by contract: the gateways serve no human access routes' };
  return { result: 'pass', message: `two-factor ${tenant.twoFactor}: every user enrolled (${tenant.users.length ? tenant.users.join(', ') : 'no users'}), the gateways hold a TOTP secret for each` };
}

function segregation(facts: AuditFacts): Outcome {
  const ns = facts.tenant.namespace;
  const inForce = new Map(facts.networkPolicies.map((p) => [p.name, p]));
  const required = new Set(facts.requiredNetworkPolicies.map((p) => p.name));
  const missing = facts.requiredNetworkPolicies.filter((p) => !inForce.has(p.name)).map((p) => p.name);
  const altered = facts.requiredNetworkPolicies.filter((p) => inForce.has(p.name) && !containsDesired(inForce.get(p.name)?.spec, p.spec)).map((p) => p.name);
  // NetworkPolicies only ever add allowed traffic: any other policy in the namespace may open a path.
  const extra = facts.networkPolicies.filter((p) => !required.has(p.name)).map((p) => p.name);
  const resources = [...new Set([...required, ...extra])].map((name) => ref('networking.k8s.io/v1', 'NetworkPolicy', name, ns));
  const problems = [
    missing.length ? `missing: ${missing.join(', ')}` : '',
    altered.length ? `not as required: ${altered.join(', ')}` : '',
    extra.length ? `not the operator's (may allow more traffic): ${extra.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) return { result: 'fail', message: `NetworkPolicies in ${ns}: ${problems.join('; ')}`, resources };
  return { result: 'pass', message: `NetworkPolicies in ${ns} are exactly the required ones: ${[...required].join(', ')}`, resources };
}

function sameQuantity(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return parseQuantity(a) === parseQuantity(b);
  } catch {
    return false;
  }
}

function quotas(facts: AuditFacts): Outcome {
  const ns = facts.tenant.namespace;
  const resources = [ref('v1', 'ResourceQuota', facts.requiredQuota.name, ns)];
  const quota = facts.resourceQuota;
  if (!quota) return { result: 'fail', message: `ResourceQuota ${facts.requiredQuota.name} is missing from ${ns}: the API server enforces no limit`, resources };
  const wrong = Object.entries(facts.requiredQuota.hard).filter(([key, value]) => !sameQuantity(quota.hard[key], value)).map(([key, value]) => `${key} is ${quota.hard[key] ?? 'unset'}, the contract says ${value}`);
  if (wrong.length) return { result: 'fail', message: `ResourceQuota ${quota.name}: ${wrong.join('; ')}`, resources };
  return { result: 'pass', message: `ResourceQuota ${quota.name} enforced by the API server: ${Object.entries(quota.hard).map(([k, v]) => `${k}=${v}`).sort().join(', ')}`, resources };
}

function agents(facts: AuditFacts): Outcome {
  const ns = facts.tenant.namespace;
  if (facts.endpoints.length === 0) return { result: 'skip', message: 'no endpoints' };
  const outdated = facts.endpoints.filter((e) => e.agentOutdated === true);
  const unknown = facts.endpoints.filter((e) => e.agentOutdated === undefined);
  const resources = [...outdated, ...unknown].map((e) => ref('tenantbackup.io/v1alpha1', 'Endpoint', e.name, ns));
  if (outdated.length) return { result: 'fail', message: `outdated backup clients: ${outdated.map((e) => `${e.name} (${e.agentVersion ?? 'unknown'})`).join(', ')}`, resources };
  if (unknown.length) return { result: 'warn', message: `client version not known yet: ${unknown.map((e) => e.name).join(', ')}`, resources };
  return { result: 'pass', message: `every endpoint's backup client is supported: ${facts.endpoints.map((e) => `${e.name} (${e.agentVersion ?? ''})`).join(', ')}` };
}

function termination(facts: AuditFacts): Outcome {
  const t = facts.termination;
  if (!t) return { result: 'skip', message: `contract ${facts.tenant.contractState}: no termination has begun` };
  const resources = t.record ? [ref('v1', 'ConfigMap', t.record)] : [];
  if (!t.recordPresent) return { result: 'fail', message: `termination at ${t.phase} without its record${t.record ? ` (ConfigMap ${t.record} not found)` : ''}`, resources };
  if (t.phase === 'Done' && !t.exportVerified && !t.exportWaived) return { result: 'fail', message: 'termination Done without a verified export or a waiver', resources };
  const how = t.exportWaived ? 'export waived by contract' : t.exportVerified ? 'export verified' : 'export not verified yet';
  return { result: 'pass', message: `termination at ${t.phase}, recorded in ConfigMap ${t.record ?? ''}; ${how}`, resources };
}

/** Every control's result for one tenant, in a stable order (rule, then space). */
export function evaluateAudit(facts: AuditFacts): PolicyReportResult[] {
  const at = new Date(facts.collectedAt);
  if (!facts.namespacePresent) {
    return [resultOf('segregation', { result: 'error', message: `namespace ${facts.tenant.namespace} not found: nothing to check` }, at)];
  }
  const spaces = [...facts.spaces].sort((a, b) => a.name.localeCompare(b.name));
  const perSpace = (rule: AuditRule, check: (f: AuditFacts, s: SpaceFact) => Outcome) => spaces.length
    ? spaces.map((s) => resultOf(rule, check(facts, s), at))
    : [resultOf(rule, { result: 'skip', message: 'no backup spaces' }, at)];
  return [
    ...perSpace('residency', residency),
    ...perSpace('encryption', encryption),
    ...perSpace('tls', tls),
    resultOf('two-factor', twoFactor(facts), at),
    resultOf('segregation', segregation(facts), at),
    resultOf('quotas', quotas(facts), at),
    resultOf('agents', agents(facts), at),
    resultOf('termination', termination(facts), at),
  ];
}
