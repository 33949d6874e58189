/**
 * The tenants' NetworkPolicies judged against the rules a provider states (S11), by NetworkPolicy
 * semantics over the desired objects (test/support/network-policy.ts): every tenant policy together
 * with the space's own peers policy, as they stand in a tenant namespace.
 */
import { describe, expect, it } from 'vitest';
import { space, tenant } from '../../../test/support/objects.ts';
import { egressAllowed, inCidr, ingressAllowed, ipBlocks, type Connection, type Party } from '../../../test/support/network-policy.ts';
import { CLUSTER_DNS, desiredPeerPolicy, gatewaySelector, spaceLabels } from '../backupspace/desired.ts';
import { NAME_LABEL, OPERATOR_NAME, TENANT_LABEL } from '../labels.ts';
import { desiredNetworkPolicies, type TenantSettings } from './desired.ts';

/** What a provider states: its cluster's ranges, its admin networks, its namespaces. */
const settings: TenantSettings = {
  operatorNamespace: 'tenant-backup-system',
  adminNamespaces: ['kube-system', 'monitoring'],
  clusterCidrs: ['10.244.0.0/16', '10.96.0.0/12', 'fd00:10:244::/56', 'fd00:10:96::/112'],
  adminCidrs: ['192.0.2.0/24', '198.51.100.64/26', '2001:db8:ad::/48'],
  userPrefix: '',
};

const GATEWAY: Connection = { protocol: 'TCP', port: 8443 };
const acme = tenant('acme');
const vault = space('vault', 'tenant-acme');

function namespace(name: string, labels: Record<string, string> = {}): Record<string, string> {
  return { 'kubernetes.io/metadata.name': name, ...labels };
}

function gatewayPod(tenantName: string, spaceName: string, ip: string): Party {
  const of = space(spaceName, `tenant-${tenantName}`);
  return { ip, namespace: namespace(`tenant-${tenantName}`, { [TENANT_LABEL]: tenantName }), pod: { ...spaceLabels(of, tenantName), ...gatewaySelector(of) } };
}

const vaultGateway = gatewayPod('acme', 'vault', '10.244.1.10');
const vaultGatewayV6 = gatewayPod('acme', 'vault', 'fd00:10:244::a');
const policies = [...desiredNetworkPolicies(acme, settings), desiredPeerPolicy(vault, 'acme')];
const internet = (ip: string): Party => ({ ip });

describe('tenant network policies, by the provider\'s rules', () => {
  it('let internet clients on IPv4 and IPv6 reach the gateway port, and no other port or protocol', () => {
    for (const client of ['203.0.113.9', '8.8.4.4', '2a01:4f8::1', '2001:db8:1::5']) {
      expect(ingressAllowed(policies, internet(client), vaultGateway, GATEWAY), client).toBe(true);
      expect(ingressAllowed(policies, internet(client), vaultGatewayV6, GATEWAY), `${client} over IPv6 pod`).toBe(true);
      for (const other of [{ protocol: 'TCP', port: 22 }, { protocol: 'TCP', port: 443 }, { protocol: 'UDP', port: 8443 }] as const) {
        expect(ingressAllowed(policies, internet(client), vaultGateway, other), `${client} on ${other.protocol}/${other.port}`).toBe(false);
      }
    }
  });

  it('except the cluster\'s pod and service ranges and the provider\'s admin networks, in both families', () => {
    for (const excepted of ['10.244.7.7', '10.96.0.10', 'fd00:10:244::77', 'fd00:10:96::a', '192.0.2.10', '198.51.100.100', '2001:db8:ad::10']) {
      expect(ingressAllowed(policies, internet(excepted), vaultGateway, GATEWAY), excepted).toBe(false);
    }
    // Just outside an admin network is the internet again.
    expect(ingressAllowed(policies, internet('198.51.100.63'), vaultGateway, GATEWAY)).toBe(true);
    // The API server accepts each ipBlock: its exceptions lie inside it, of its own family.
    for (const block of ipBlocks(policies)) {
      for (const cidr of block.except ?? []) expect(inCidr(cidr.split('/')[0] ?? '', block.cidr), `${cidr} in ${block.cidr}`).toBe(true);
    }
    expect(ipBlocks(policies).map((b) => b.cidr).sort()).toEqual(['0.0.0.0/0', '::/0']);
  });

  it('let in the operator and the provider\'s ingress pods, and no other tenant, admin namespace or operator-namespace pod', () => {
    const pod = (ns: Record<string, string>, labels: Record<string, string>, ip = '10.244.3.3'): Party => ({ ip, namespace: ns, pod: labels });
    const verdicts = {
      operator: ingressAllowed(policies, pod(namespace('tenant-backup-system'), { [NAME_LABEL]: OPERATOR_NAME }), vaultGateway, GATEWAY),
      ingressController: ingressAllowed(policies, pod(namespace('ingress-nginx'), { app: 'ingress' }), vaultGateway, GATEWAY),
      otherTenant: ingressAllowed(policies, gatewayPod('other', 'data', '10.244.9.9'), vaultGateway, GATEWAY),
      otherTenantOverIpv6: ingressAllowed(policies, gatewayPod('other', 'data', 'fd00:10:244::99'), vaultGateway, GATEWAY),
      kubeSystem: ingressAllowed(policies, pod(namespace('kube-system'), {}), vaultGateway, GATEWAY),
      monitoring: ingressAllowed(policies, pod(namespace('monitoring'), { app: 'prometheus' }), vaultGateway, GATEWAY),
      operatorNamespaceOther: ingressAllowed(policies, pod(namespace('tenant-backup-system'), { app: 'other' }), vaultGateway, GATEWAY),
      sameTenantOtherSpace: ingressAllowed(policies, gatewayPod('acme', 'other', '10.244.1.11'), vaultGateway, GATEWAY),
      samePeer: ingressAllowed(policies, gatewayPod('acme', 'vault', '10.244.1.12'), vaultGateway, GATEWAY),
    };
    expect(verdicts).toEqual({
      operator: true, ingressController: true, otherTenant: false, otherTenantOverIpv6: false, kubeSystem: false, monitoring: false,
      operatorNamespaceOther: false, sameTenantOtherSpace: false, samePeer: true,
    });
  });

  it('let nothing else of the tenant\'s namespace be reached', () => {
    const job = { ip: '10.244.1.20', namespace: vaultGateway.namespace, pod: { 'job-name': 'export' } };
    expect(ingressAllowed(policies, internet('203.0.113.9'), job, GATEWAY)).toBe(false);
    expect(ingressAllowed(policies, { ip: '10.244.2.5', namespace: namespace('tenant-backup-system'), pod: { [NAME_LABEL]: OPERATOR_NAME } }, job, GATEWAY)).toBe(false);
  });

  it('let no egress out but what is stated: DNS and the space\'s own peers on the gateway port', () => {
    const dns = { ip: '10.96.0.10', namespace: namespace(CLUSTER_DNS.namespace), pod: { ...CLUSTER_DNS.podLabels } };
    const stated = {
      dnsUdp: egressAllowed(policies, vaultGateway, dns, { protocol: 'UDP', port: 53 }),
      dnsTcp: egressAllowed(policies, vaultGateway, dns, { protocol: 'TCP', port: 53 }),
      peer: egressAllowed(policies, vaultGateway, gatewayPod('acme', 'vault', '10.244.1.12'), GATEWAY),
    };
    expect(stated).toEqual({ dnsUdp: true, dnsTcp: true, peer: true });
    const unstated = {
      internet: egressAllowed(policies, vaultGateway, internet('203.0.113.9'), { protocol: 'TCP', port: 443 }),
      internetV6: egressAllowed(policies, vaultGatewayV6, internet('2a01:4f8::1'), { protocol: 'TCP', port: 443 }),
      adminNetwork: egressAllowed(policies, vaultGateway, internet('192.0.2.10'), { protocol: 'TCP', port: 22 }),
      apiServer: egressAllowed(policies, vaultGateway, internet('10.96.0.1'), { protocol: 'TCP', port: 443 }),
      dnsOtherPort: egressAllowed(policies, vaultGateway, dns, { protocol: 'TCP', port: 80 }),
      peerOtherPort: egressAllowed(policies, vaultGateway, gatewayPod('acme', 'vault', '10.244.1.12'), { protocol: 'TCP', port: 22 }),
      otherSpace: egressAllowed(policies, vaultGateway, gatewayPod('acme', 'other', '10.244.1.11'), GATEWAY),
      otherTenant: egressAllowed(policies, vaultGateway, gatewayPod('other', 'vault', '10.244.9.9'), GATEWAY),
      // Any other pod of the namespace: not even DNS.
      jobToDns: egressAllowed(policies, { ip: '10.244.1.20', namespace: vaultGateway.namespace, pod: { 'job-name': 'x' } }, dns, { protocol: 'UDP', port: 53 }),
    };
    expect(Object.entries(unstated).filter(([, allowed]) => allowed)).toEqual([]);
  });

  it('give a suspended tenant only the default deny: no client, not even the operator, gets in', () => {
    const suspended = desiredNetworkPolicies(tenant('acme', { contract: { state: 'Suspended' } }), settings);
    expect(suspended.map((p) => [p.metadata.name, p.spec])).toEqual([['default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }]]);
    const operator = { ip: '10.244.2.5', namespace: namespace('tenant-backup-system'), pod: { [NAME_LABEL]: OPERATOR_NAME } };
    for (const source of [internet('203.0.113.9'), internet('2a01:4f8::1'), operator]) {
      expect(ingressAllowed(suspended, source, vaultGateway, GATEWAY), source.ip).toBe(false);
    }
    expect(egressAllowed(suspended, vaultGateway, internet('203.0.113.9'), { protocol: 'TCP', port: 443 })).toBe(false);
  });

  it('with no admin networks stated, except only the cluster\'s ranges', () => {
    const plain = desiredNetworkPolicies(acme, { ...settings, adminCidrs: [] });
    expect(ipBlocks(plain)).toEqual([
      { cidr: '0.0.0.0/0', except: ['10.244.0.0/16', '10.96.0.0/12'] },
      { cidr: '::/0', except: ['fd00:10:244::/56', 'fd00:10:96::/112'] },
    ]);
    expect(ingressAllowed(plain, internet('192.0.2.10'), vaultGateway, GATEWAY)).toBe(true);
  });
});
