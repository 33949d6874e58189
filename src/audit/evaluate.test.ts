import { describe, expect, it } from 'vitest';
import type { AuditFacts } from './facts.ts';
import { evaluateAudit, type AuditRule } from './evaluate.ts';
import { carryTimestamps, sameResults, summarize } from './policy-report.ts';

function facts(): AuditFacts {
  return {
    collectedAt: '2026-12-03T10:00:00Z',
    tenant: { name: 'acme', uid: 'u1', namespace: 'tenant-acme', countries: ['IT'], twoFactor: 'Required', keyCustody: 'provider', users: ['anna'], contractState: 'Active' },
    namespacePresent: true,
    nodes: [{ name: 'milan-1', country: 'IT' }, { name: 'milan-2', country: 'IT' }, { name: 'paris-1', country: 'FR' }],
    gatewayPods: [{ name: 'main-gateway-a', space: 'main', nodeName: 'milan-1' }, { name: 'main-gateway-b', space: 'main', nodeName: 'milan-2' }],
    spaces: [{
      name: 'main',
      datacenter: 'milan',
      datacenterCountry: 'IT',
      keySecret: { custody: 'provider', keyId: 'k1' },
      rendered: { encryptAtRest: true, keyCustody: 'provider', keyId: 'k1', twoFactorPolicy: 'two-factor', users: [{ name: 'anna', totp: true }] },
      tls: { minVersion: 'TLSv1.2', certificateSecret: true },
    }],
    enrolledUsers: ['anna'],
    networkPolicies: [{ name: 'default-deny', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }],
    requiredNetworkPolicies: [{ name: 'default-deny', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }],
    resourceQuota: { name: 'tenant-quota', hard: { 'requests.storage': '1Gi', persistentvolumeclaims: '1' } },
    requiredQuota: { name: 'tenant-quota', hard: { 'requests.storage': '1024Mi', persistentvolumeclaims: '1' } },
    endpoints: [{ name: 'laptop', agentVersion: 'restic/0.17.3', agentOutdated: false }],
  };
}

const outcome = (f: AuditFacts, rule: AuditRule) => evaluateAudit(f).find((r) => r.rule === rule);

describe('evaluateAudit', () => {
  it('passes every control of a tenant built as promised, with the PolicyReport fields', () => {
    const results = evaluateAudit(facts());
    expect(results.map((r) => [r.rule, r.result])).toEqual([
      ['residency', 'pass'], ['encryption', 'pass'], ['tls', 'pass'], ['two-factor', 'pass'], ['segregation', 'pass'], ['quotas', 'pass'], ['agents', 'pass'], ['termination', 'skip'],
    ]);
    expect(results[0]).toMatchObject({ policy: 'tenant-backup', severity: 'critical', category: 'Residency (S7)', timestamp: { seconds: Date.parse('2026-12-03T10:00:00Z') / 1000, nanos: 0 } });
    expect(results[0]?.resources).toContainEqual({ apiVersion: 'v1', kind: 'Node', name: 'milan-2' });
    expect(summarize(results)).toEqual({ pass: 7, fail: 0, warn: 0, error: 0, skip: 1 });
  });

  it('fails residency for a gateway pod bound to a foreign node, naming pod, node and country', () => {
    const f = facts();
    f.gatewayPods[1] = { name: 'main-gateway-b', space: 'main', nodeName: 'paris-1' };
    expect(outcome(f, 'residency')).toMatchObject({ result: 'fail', message: expect.stringContaining('main-gateway-b on paris-1 (FR)') });
  });

  it('fails residency for a node without a country label, and skips a space not scheduled yet', () => {
    const f = facts();
    f.nodes = f.nodes.filter((n) => n.name !== 'milan-2').concat({ name: 'milan-2' });
    expect(outcome(f, 'residency')?.result).toBe('fail');
    f.gatewayPods = [{ name: 'p', space: 'main' }];
    expect(outcome(f, 'residency')?.result).toBe('skip');
  });

  it('fails encryption when at-rest is off, the key Secret is gone or the key ids differ', () => {
    const off = facts();
    if (off.spaces[0]?.rendered) off.spaces[0].rendered.encryptAtRest = false;
    expect(outcome(off, 'encryption')).toMatchObject({ result: 'fail', message: expect.stringContaining('at-rest encryption is off') });
    const gone = facts();
    delete gone.spaces[0]?.keySecret;
    expect(outcome(gone, 'encryption')?.message).toContain('key Secret is missing');
    const other = facts();
    if (other.spaces[0]?.rendered) other.spaces[0].rendered.keyId = 'k2';
    expect(outcome(other, 'encryption')?.message).toContain('names key k2');
  });

  it('fails tls for a gateway that accepts TLS 1.1', () => {
    const f = facts();
    if (f.spaces[0]) f.spaces[0].tls.minVersion = 'TLSv1.1';
    expect(outcome(f, 'tls')?.result).toBe('fail');
  });

  it('fails two-factor for a user not enrolled or a gateway enforcing a weaker policy', () => {
    const f = facts();
    f.tenant.users = ['anna', 'bruno'];
    expect(outcome(f, 'two-factor')).toMatchObject({ result: 'fail', message: 'not enrolled: bruno', resources: [{ kind: 'Secret', name: 'user-bruno-2fa' }] });
    const weak = facts();
    if (weak.spaces[0]?.rendered) weak.spaces[0].rendered.twoFactorPolicy = 'one-factor';
    expect(outcome(weak, 'two-factor')?.message).toContain('enforces one-factor');
  });

  it('fails segregation for a deleted, altered or extra NetworkPolicy', () => {
    const deleted = facts();
    deleted.networkPolicies = [];
    expect(outcome(deleted, 'segregation')?.message).toContain('missing: default-deny');
    const altered = facts();
    altered.networkPolicies = [{ name: 'default-deny', spec: { podSelector: {}, policyTypes: ['Egress'] } }];
    expect(outcome(altered, 'segregation')?.message).toContain('not as required: default-deny');
    const extra = facts();
    extra.networkPolicies.push({ name: 'allow-all', spec: {} });
    expect(outcome(extra, 'segregation')?.message).toContain("not the operator's (may allow more traffic): allow-all");
  });

  it('fails quotas when the ResourceQuota is missing or differs, comparing quantities by value', () => {
    const gone = facts();
    delete gone.resourceQuota;
    expect(outcome(gone, 'quotas')?.result).toBe('fail');
    const raised = facts();
    if (raised.resourceQuota) raised.resourceQuota.hard['requests.storage'] = '2Gi';
    expect(outcome(raised, 'quotas')?.message).toContain('requests.storage is 2Gi, the contract says 1024Mi');
  });

  it('fails agents for an outdated client and warns for an unknown one', () => {
    const f = facts();
    f.endpoints = [{ name: 'old', agentVersion: 'restic/0.12.0', agentOutdated: true }];
    expect(outcome(f, 'agents')?.result).toBe('fail');
    f.endpoints = [{ name: 'new' }];
    expect(outcome(f, 'agents')?.result).toBe('warn');
  });

  it('checks a termination against its record', () => {
    const f = facts();
    f.termination = { phase: 'Done', record: 'termination-acme', recordPresent: true, exportVerified: true };
    expect(outcome(f, 'termination')?.result).toBe('pass');
    f.termination = { phase: 'Exporting', record: 'termination-acme', recordPresent: false };
    expect(outcome(f, 'termination')?.result).toBe('fail');
  });

  it('compares results without their timestamps, and keeps the time an unchanged result was first found', () => {
    const before = evaluateAudit(facts());
    const later = evaluateAudit({ ...facts(), collectedAt: '2026-12-03T11:00:00Z' });
    expect(sameResults(before, later)).toBe(true);
    expect(carryTimestamps(later, before)).toEqual(before);
    const broken = facts();
    broken.networkPolicies = [];
    expect(sameResults(before, evaluateAudit(broken))).toBe(false);
  });
});
