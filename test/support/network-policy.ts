/**
 * NetworkPolicy semantics (networking.k8s.io/v1) as the API defines them, to judge desired policies
 * without a cluster: who may connect to a pod (ingress) and where a pod may connect (egress), given
 * every policy of its namespace. Policies add up; a pod selected by none for a direction is not
 * isolated in it. Pod IPs match ipBlocks like any address (the API leaves that to the plugin; kube-
 * router and Calico both do), so a pod's address in an excepted range is tested as such.
 */
import { BlockList, isIP } from 'node:net';
import type { ApplyObject } from '../../src/runtime/apply.ts';
import { matchesSelector, type LabelSelector } from '../../src/runtime/selector.ts';

interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}

interface Port {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: Port[];
}

interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: Rule[];
  egress?: Rule[];
}

/** One end of a connection: an address, and for a pod of the cluster its namespace's and its own labels. */
export interface Party {
  ip: string;
  /** Labels of the pod's namespace (with kubernetes.io/metadata.name), for pods only. */
  namespace?: Record<string, string>;
  pod?: Record<string, string>;
}

export interface Connection {
  protocol: 'TCP' | 'UDP';
  port: number;
}

export function inCidr(ip: string, cidr: string): boolean {
  const [network = '', prefix = ''] = cidr.split('/');
  const family = isIP(network) === 6 ? 'ipv6' : 'ipv4';
  if ((isIP(ip) === 6 ? 'ipv6' : 'ipv4') !== family) return false;
  const list = new BlockList();
  list.addSubnet(network, Number(prefix), family);
  return list.check(ip, family);
}

function policySpec(policy: ApplyObject): PolicySpec {
  if (policy.kind !== 'NetworkPolicy') throw new Error(`not a NetworkPolicy: ${policy.kind}`);
  return policy.spec as PolicySpec;
}

function policyTypes(spec: PolicySpec): ('Ingress' | 'Egress')[] {
  return spec.policyTypes ?? (spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
}

function peerMatches(peer: Peer, party: Party, policyNamespace: string): boolean {
  if (peer.ipBlock) return inCidr(party.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr) => inCidr(party.ip, cidr));
  if (!party.namespace || !party.pod) return false;
  const namespaceOk = peer.namespaceSelector ? matchesSelector(party.namespace, peer.namespaceSelector) : party.namespace['kubernetes.io/metadata.name'] === policyNamespace;
  return namespaceOk && (!peer.podSelector || matchesSelector(party.pod, peer.podSelector));
}

function portMatches(ports: Port[] | undefined, connection: Connection): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol ?? 'TCP') === connection.protocol
    && (p.port === undefined || (typeof p.port === 'number' && connection.port >= p.port && connection.port <= (p.endPort ?? p.port))));
}

function namespaceOf(policy: ApplyObject): string {
  return policy.metadata.namespace ?? '';
}

function selecting(policies: readonly ApplyObject[], pod: Party, direction: 'Ingress' | 'Egress'): ApplyObject[] {
  const namespace = pod.namespace?.['kubernetes.io/metadata.name'];
  return policies.filter((p) => namespaceOf(p) === namespace && policyTypes(policySpec(p)).includes(direction) && matchesSelector(pod.pod, policySpec(p).podSelector));
}

/** Whether `source` may open `connection` to `target` (a pod), by the target namespace's policies. */
export function ingressAllowed(policies: readonly ApplyObject[], source: Party, target: Party, connection: Connection): boolean {
  const applying = selecting(policies, target, 'Ingress');
  if (applying.length === 0) return true;
  return applying.some((p) => (policySpec(p).ingress ?? []).some((rule) => portMatches(rule.ports, connection) && (rule.from === undefined || rule.from.length === 0 || rule.from.some((peer) => peerMatches(peer, source, namespaceOf(p))))));
}

/** Whether `source` (a pod) may open `connection` to `target`, by the source namespace's policies. */
export function egressAllowed(policies: readonly ApplyObject[], source: Party, target: Party, connection: Connection): boolean {
  const applying = selecting(policies, source, 'Egress');
  if (applying.length === 0) return true;
  return applying.some((p) => (policySpec(p).egress ?? []).some((rule) => portMatches(rule.ports, connection) && (rule.to === undefined || rule.to.length === 0 || rule.to.some((peer) => peerMatches(peer, target, namespaceOf(p))))));
}

/** Every ipBlock of the policies, for checks of their own validity. */
export function ipBlocks(policies: readonly ApplyObject[]): { cidr: string; except?: string[] }[] {
  return policies.flatMap((p) => {
    const spec = policySpec(p);
    return [...(spec.ingress ?? []).flatMap((r) => r.from ?? []), ...(spec.egress ?? []).flatMap((r) => r.to ?? [])].flatMap((peer) => (peer.ipBlock ? [peer.ipBlock] : []));
  });
}
