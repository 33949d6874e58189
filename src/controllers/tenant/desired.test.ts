import { describe, expect, it } from 'vitest';
import { matchesSelector, type LabelSelector } from '../../runtime/selector.ts';
import { COMPONENT_LABEL, GATEWAY_COMPONENT, NAME_LABEL, OPERATOR_NAME, TENANT_LABEL } from '../labels.ts';
import { inCidr } from '../../../test/support/network-policy.ts';
import { space, tenant } from '../../../test/support/objects.ts';
import { containsDesired } from '../context.ts';
import { desiredNamespace, desiredNamespacedObjects, desiredNetworkPolicies, desiredQuota, desiredRbac, type TenantSettings } from './desired.ts';
import { tenantStatus } from './status.ts';
import { storageOverQuota } from '../../admission/rules.ts';

interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}

/** Who is connecting: an address, and for a pod of the cluster its namespace's and its own labels. */
interface Source {
  ip: string;
  namespace?: Record<string, string>;
  pod?: Record<string, string>;
}


/**
 * One `from` peer of a policy in `policyNamespace`, as the NetworkPolicy API defines it: an ipBlock,
 * or a namespace selector and/or a pod selector (a pod selector alone means the policy's namespace).
 */
function peerAdmits(peer: Peer, source: Source, policyNamespace: string): boolean {
  if (peer.ipBlock) return inCidr(source.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr) => inCidr(source.ip, cidr));
  if (!source.namespace || !source.pod || (!peer.namespaceSelector && !peer.podSelector)) return false;
  const namespaceOk = peer.namespaceSelector ? matchesSelector(source.namespace, peer.namespaceSelector) : source.namespace['kubernetes.io/metadata.name'] === policyNamespace;
  return namespaceOk && (!peer.podSelector || matchesSelector(source.pod, peer.podSelector));
}

const settings: TenantSettings = { operatorNamespace: 'tenant-backup-system', adminNamespaces: ['kube-system', 'monitoring'], clusterCidrs: ['10.244.0.0/16', '10.96.0.0/12', 'fd00::/48'], adminCidrs: [], userPrefix: 'oidc:' };

describe('tenant desired state', () => {
  it('gives the tenant a restricted, labelled namespace it owns', () => {
    const ns = desiredNamespace(tenant('acme'));
    expect(ns.metadata.name).toBe('tenant-acme');
    expect(ns.metadata.labels).toMatchObject({ 'tenantbackup.io/tenant': 'acme', 'pod-security.kubernetes.io/enforce': 'restricted', 'tenantbackup.io/contract': 'Active' });
    expect(ns.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Tenant', name: 'acme', uid: 'uid-acme', controller: true });
  });

  it('turns the contract quotas into a ResourceQuota the API server enforces', () => {
    const quota = desiredQuota(tenant('acme', { quotas: { storage: '1Ti', spaces: 3, endpoints: 25 } }));
    expect(quota.metadata.namespace).toBe('tenant-acme');
    expect((quota.spec as { hard: Record<string, string> }).hard).toEqual({
      'requests.storage': '1Ti',
      persistentvolumeclaims: '3',
      'count/backupspaces.tenantbackup.io': '3',
      'count/endpoints.tenantbackup.io': '25',
    });
  });

  it('denies all traffic and writes the gateway\'s ingress policy: the gateway port, outside ranges, non-tenant namespaces', () => {
    const [deny, allow] = desiredNetworkPolicies(tenant('acme'), settings);
    expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const ingress = (allow?.spec as { ingress: { ports: unknown[]; from: Record<string, unknown>[] }[] }).ingress[0]!;
    expect(ingress.ports).toEqual([{ protocol: 'TCP', port: 8443 }]);
    expect(ingress.from[0]).toEqual({ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16', '10.96.0.0/12'] } });
    expect(ingress.from[1]).toEqual({ ipBlock: { cidr: '::/0', except: ['fd00::/48'] } });
    expect(ingress.from[2]).toEqual({
      namespaceSelector: {
        matchExpressions: [
          { key: 'tenantbackup.io/tenant', operator: 'DoesNotExist' },
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'monitoring', 'tenant-backup-system'] },
        ],
      },
    });
  });

  it('admits, by NetworkPolicy semantics, outside clients, the provider\'s ingress and the operator — and no pod of another tenant or admin namespace', () => {
    const [deny, allow] = desiredNetworkPolicies(tenant('acme'), settings);
    expect(deny?.spec).toMatchObject({ podSelector: {} });
    const ingress = (allow?.spec as { ingress: { from: Peer[] }[] }).ingress;
    const gateway = { [COMPONENT_LABEL]: GATEWAY_COMPONENT };
    expect(matchesSelector(gateway, (allow?.spec as { podSelector: LabelSelector }).podSelector)).toBe(true);
    const admitted = (source: Source) => ingress.some((rule) => rule.from.some((peer) => peerAdmits(peer, source, 'tenant-acme')));
    const tenantPod = (name: string, ip: string): Source => ({ ip, namespace: { 'kubernetes.io/metadata.name': `tenant-${name}`, [TENANT_LABEL]: name }, pod: gateway });
    const verdicts = {
      otherTenantGateway: admitted(tenantPod('other', '10.244.1.5')),
      otherTenantOverIpv6: admitted(tenantPod('other', 'fd00::12')),
      otherTenantThroughServiceIp: admitted({ ip: '10.96.4.4' }),
      kubeSystemPod: admitted({ ip: '10.244.2.2', namespace: { 'kubernetes.io/metadata.name': 'kube-system' }, pod: {} }),
      monitoringPod: admitted({ ip: '10.244.2.3', namespace: { 'kubernetes.io/metadata.name': 'monitoring' }, pod: {} }),
      operatorNamespaceOtherPod: admitted({ ip: '10.244.2.4', namespace: { 'kubernetes.io/metadata.name': 'tenant-backup-system' }, pod: { app: 'other' } }),
      operator: admitted({ ip: '10.244.2.5', namespace: { 'kubernetes.io/metadata.name': 'tenant-backup-system' }, pod: { [NAME_LABEL]: OPERATOR_NAME } }),
      ingressController: admitted({ ip: '10.244.3.9', namespace: { 'kubernetes.io/metadata.name': 'ingress-nginx' }, pod: { app: 'ingress' } }),
      internetClient: admitted({ ip: '203.0.113.9' }),
      internetClientIpv6: admitted({ ip: '2001:db8::1' }),
    };
    expect(verdicts).toEqual({
      otherTenantGateway: false, otherTenantOverIpv6: false, otherTenantThroughServiceIp: false, kubeSystemPod: false, monitoringPod: false, operatorNamespaceOtherPod: false,
      operator: true, ingressController: true, internetClient: true, internetClientIpv6: true,
    });
  });

  it('refuses all access while the contract is suspended', () => {
    const policies = desiredNetworkPolicies(tenant('acme', { contract: { state: 'Suspended' } }), settings);
    expect(policies.map((p) => p.metadata.name)).toEqual(['default-deny']);
  });

  it('binds each user to the role of their choice, under the configured user prefix', () => {
    const objects = desiredRbac(tenant('acme', { users: [{ name: 'giulia', email: 'g@acme.example', role: 'admin' }, { name: 'marco', email: 'm@acme.example' }] }), settings);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding');
    expect(bindings.map((b) => [b.metadata.name, (b.roleRef as { name: string }).name, (b.subjects as { name: string }[])[0]?.name])).toEqual([
      ['user-giulia', 'tenant-admin', 'oidc:g@acme.example'],
      ['user-marco', 'tenant-viewer', 'oidc:m@acme.example'],
    ]);
    const viewer = objects.find((o) => o.metadata.name === 'tenant-viewer');
    expect(JSON.stringify(viewer)).not.toMatch(/"(create|update|patch|delete)"/);
    expect(JSON.stringify(viewer)).not.toContain('secrets');
  });

  it('owns every namespaced object through the tenant', () => {
    for (const object of desiredNamespacedObjects(tenant('acme'), settings)) {
      expect(object.metadata.namespace).toBe('tenant-acme');
      expect(object.metadata.labels?.['tenantbackup.io/tenant']).toBe('acme');
      expect(object.metadata.ownerReferences?.[0]?.uid).toBe('uid-acme');
    }
  });
});

describe('containsDesired', () => {
  it('ignores fields the API server added and notices any desired difference', () => {
    const actual = { metadata: { name: 'a', uid: 'x', labels: { a: '1', extra: '2' } }, spec: { hard: { pods: '1' } }, status: {} };
    expect(containsDesired(actual, { metadata: { name: 'a', labels: { a: '1' } }, spec: { hard: { pods: '1' } } })).toBe(true);
    expect(containsDesired(actual, { metadata: { name: 'a', labels: { a: '2' } } })).toBe(false);
    expect(containsDesired({ list: [1, 2] }, { list: [1] })).toBe(false);
    expect(containsDesired({ list: [{ a: 1, b: 2 }] }, { list: [{ a: 1 }] })).toBe(true);
  });
});

describe('tenant status', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  it('is Ready once the namespace exists and the API server accounts the quota', () => {
    const t = tenant('acme');
    expect(tenantStatus(t, { namespaceReady: true }, now).conditions?.find((c) => c.type === 'Ready')?.reason).toBe('QuotaPending');
    // Counted limits but not yet counted usage: admission would still answer "status unknown".
    const uncounted = { spec: { hard: { 'requests.storage': '100Gi' } }, status: { hard: { 'requests.storage': '100Gi' }, used: {} } };
    expect(tenantStatus(t, { namespaceReady: true, quota: uncounted }, now).conditions?.find((c) => c.type === 'Ready')?.reason).toBe('QuotaPending');
    const status = tenantStatus(t, {
      namespaceReady: true,
      quota: { spec: { hard: { 'requests.storage': '100Gi', 'count/backupspaces.tenantbackup.io': '2' } }, status: { hard: { 'requests.storage': '100Gi', 'count/backupspaces.tenantbackup.io': '2' }, used: { 'requests.storage': '10Gi', 'count/backupspaces.tenantbackup.io': '1' } } },
    }, now);
    expect(status.phase).toBe('Active');
    expect(status.usage).toEqual({ storage: { used: '10Gi', hard: '100Gi' }, spaces: { used: '1', hard: '2' } });
    expect(status.conditions?.map((c) => [c.type, c.status])).toEqual([['Ready', 'True'], ['ContractActive', 'True']]);
  });

  it('says QuotaExceeded, naming the field, the sum and the spaces, when the spaces hold more than the quota', () => {
    const quota = { spec: { hard: { 'requests.storage': '10Gi' } }, status: { hard: { 'requests.storage': '10Gi' }, used: { 'requests.storage': '20Gi' } } };
    const lowered = tenant('acme', { quotas: { storage: '10Gi', spaces: 2, endpoints: 5 } });
    const overQuota = storageOverQuota(lowered, [space('kept', 'tenant-acme', { size: '20Gi' })]);
    expect(overQuota).toBeDefined();
    const status = tenantStatus(lowered, { namespaceReady: true, quota, ...(overQuota ? { overQuota } : {}) }, now);
    expect(status.conditions?.find((c) => c.type === 'QuotaExceeded')).toMatchObject({
      status: 'True',
      reason: 'StorageOverQuota',
      message: 'spec.quotas.storage: quota: tenant acme\'s 1 space(s) hold 20Gi: tenant-acme/kept (20Gi), more than its storage quota of 10Gi. Existing spaces keep running at their size; no space may grow and no new space is admitted until the quota is at least 20Gi or spaces are deleted',
    });
    // The tenant itself is built and serves: Ready stays True, beside the warning.
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // Back within the quota, the condition goes.
    const fixed = tenantStatus({ ...lowered, status }, { namespaceReady: true, quota }, now);
    expect(fixed.conditions?.map((c) => c.type)).not.toContain('QuotaExceeded');
  });

  it('reports a suspended contract', () => {
    const status = tenantStatus(tenant('acme', { contract: { state: 'Suspended' } }), { namespaceReady: true, quota: { status: { hard: {}, used: {} } } }, now);
    expect(status.phase).toBe('Suspended');
    expect(status.conditions?.find((c) => c.type === 'ContractActive')).toMatchObject({ status: 'False', reason: 'Suspended' });
  });
});
