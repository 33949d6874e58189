/** What the operator gives a space's gateway replicas to find, reach and trust each other (src/gateway/peers.ts). */
import { describe, expect, it } from 'vitest';
import { datacenter, space } from '../../../test/support/objects.ts';
import { decodePeerToken } from '../../gateway/config.ts';
import type { GatewayReport } from '../../gateway/report-contract.ts';
import { desiredGateway, desiredPeerPolicy, desiredPeerService, gatewaySelector } from './desired.ts';
import { gatewayConfigSecret, peerToken, PEER_TOKEN } from './secrets.ts';
import { spaceStatus } from './status.ts';

const milan = datacenter('it-mil1', 'IT', { nodeSelector: { matchLabels: { 'topology.kubernetes.io/zone': 'it-mil1' } } });
const vault = space('vault', 'tenant-acme', { replicas: 2 });
const other = space('archive', 'tenant-acme', { replicas: 2 });

interface Policy {
  metadata: { name: string; namespace: string; ownerReferences: { uid: string }[] };
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: { from: Record<string, unknown>[]; ports: { protocol: string; port: number }[] }[];
    egress: { to: Record<string, unknown>[]; ports: { protocol: string; port: number }[] }[];
  };
}

/** Whether a pod with these labels, in this namespace, matches a NetworkPolicy peer (podSelector/namespaceSelector by matchLabels). */
function peerMatches(peer: Record<string, unknown>, pod: { namespace: string; labels: Record<string, string> }, policyNamespace: string): boolean {
  const podSelector = peer.podSelector as { matchLabels?: Record<string, string> } | undefined;
  const namespaceSelector = peer.namespaceSelector as { matchLabels?: Record<string, string> } | undefined;
  if (peer.ipBlock !== undefined) return true;
  const labelsMatch = (want: Record<string, string> | undefined, have: Record<string, string>) => Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
  const namespaceOk = namespaceSelector === undefined ? pod.namespace === policyNamespace : labelsMatch(namespaceSelector.matchLabels, { 'kubernetes.io/metadata.name': pod.namespace });
  return namespaceOk && (podSelector === undefined || labelsMatch(podSelector.matchLabels, pod.labels));
}

describe('peer discovery', () => {
  it('lists every gateway pod of the space, ready or not, in a headless Service beside the gateway Service', () => {
    const service = desiredPeerService(vault, 'acme') as unknown as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(service.metadata.name).toBe('vault-gateway-peers');
    expect(service.spec).toEqual({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: gatewaySelector(vault),
      ports: [{ name: 'https', port: 8443, targetPort: 'https', protocol: 'TCP' }],
    });
  });

  it('tells the gateway that name, and mounts the CA it checks its peers against', () => {
    const deployment = desiredGateway(vault, 'acme', milan, { gatewayImage: 'img', keyService: { url: 'https://keys.tbo.svc:9444', namespace: 'tbo', port: 9444 } }) as unknown as {
      spec: { template: { spec: { containers: { args: string[] }[]; volumes: { name: string; projected?: { sources: { secret: { name: string; items?: { key: string }[] } }[] } }[] } } };
    };
    const pod = deployment.spec.template.spec;
    const args = pod.containers[0]?.args ?? [];
    expect(args[args.indexOf('--peers-dns') + 1]).toBe('vault-gateway-peers');
    const tls = pod.volumes.find((v) => v.name === 'config')?.projected?.sources.find((s) => s.secret.name === 'vault-gateway-tls');
    expect(tls?.secret.items?.map((i) => i.key)).toEqual(['tls.crt', 'tls.key', 'ca.crt']);
  });
});

describe('peer token', () => {
  const master = Buffer.alloc(32, 1);

  it('is the same on every reconcile, differs per space and per master key, and the gateway accepts it', () => {
    const token = peerToken(master, 'uid-a');
    expect(peerToken(master, 'uid-a')).toBe(token);
    expect(peerToken(master, 'uid-b')).not.toBe(token);
    expect(peerToken(Buffer.alloc(32, 2), 'uid-a')).not.toBe(token);
    expect(decodePeerToken(`${token}\n`)).toBe(token);
    expect(token).not.toContain(master.toString('base64url').slice(0, 16));
  });

  it('goes into the gateway config Secret, and nowhere into access.json', () => {
    const token = peerToken(master, 'uid-a');
    const secret = gatewayConfigSecret(vault, 'acme', { version: 1 } as never, undefined, token) as unknown as { data: Record<string, string> };
    expect(Buffer.from(secret.data[PEER_TOKEN] ?? '', 'base64').toString()).toBe(token);
    expect(Buffer.from(secret.data['access.json'] ?? '', 'base64').toString()).not.toContain(token);
    expect(secret.data['data.key']).toBeUndefined();
  });
});

describe('peer network policy', () => {
  const policy = desiredPeerPolicy(vault, 'acme') as unknown as Policy;
  const vaultPod = { namespace: 'tenant-acme', labels: { ...gatewaySelector(vault), 'tenantbackup.io/space': 'vault' } };
  const archivePod = { namespace: 'tenant-acme', labels: { ...gatewaySelector(other), 'tenantbackup.io/space': 'archive' } };
  const elsewhere = { namespace: 'tenant-globex', labels: gatewaySelector(vault) };
  const dns = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
  const otherKubeSystem = { namespace: 'kube-system', labels: { 'k8s-app': 'metrics-server' } };

  it('applies to this space\'s gateway pods only, owned by the space', () => {
    expect(policy.metadata).toMatchObject({ name: 'vault-gateway-peers', namespace: 'tenant-acme', ownerReferences: [{ uid: 'uid-tenant-acme-vault' }] });
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(peerMatches({ podSelector: policy.spec.podSelector }, vaultPod, 'tenant-acme')).toBe(true);
    expect(peerMatches({ podSelector: policy.spec.podSelector }, archivePod, 'tenant-acme')).toBe(false);
  });

  it('lets in only the same space\'s gateways, only on the gateway port', () => {
    expect(policy.spec.ingress).toHaveLength(1);
    const [rule] = policy.spec.ingress;
    expect(rule?.ports).toEqual([{ protocol: 'TCP', port: 8443 }]);
    const from = rule?.from ?? [];
    expect(from.some((p) => peerMatches(p, vaultPod, 'tenant-acme'))).toBe(true);
    for (const stranger of [archivePod, elsewhere, dns]) expect(from.some((p) => peerMatches(p, stranger, 'tenant-acme'))).toBe(false);
  });

  it('lets out only to the same space\'s gateways on the gateway port, and to the cluster DNS on port 53', () => {
    const [peers, resolver] = policy.spec.egress;
    expect(policy.spec.egress).toHaveLength(2);
    expect(peers?.ports).toEqual([{ protocol: 'TCP', port: 8443 }]);
    expect(peers?.to.some((p) => peerMatches(p, vaultPod, 'tenant-acme'))).toBe(true);
    for (const stranger of [archivePod, elsewhere, dns]) expect(peers?.to.some((p) => peerMatches(p, stranger, 'tenant-acme'))).toBe(false);
    expect(resolver?.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    expect(resolver?.to.some((p) => peerMatches(p, dns, 'tenant-acme'))).toBe(true);
    for (const stranger of [otherKubeSystem, vaultPod, archivePod]) expect(resolver?.to.some((p) => peerMatches(p, stranger, 'tenant-acme'))).toBe(false);
    // Nothing by address: no way out of the cluster.
    expect(JSON.stringify(policy.spec)).not.toContain('ipBlock');
  });
});

describe('sealed replicas in status', () => {
  const now = new Date('2026-12-02T08:00:00Z');
  const report = (dataKeyState: 'ready' | 'sealed', replicas?: { total: number; sealed: number; unreachable: number }): GatewayReport => ({
    version: 1,
    generatedAt: now.toISOString(),
    gateway: { startedAt: now.toISOString(), configDigest: 'd', dataKeyState, ...(replicas ? { replicas } : {}) },
    space: { namespace: 'tenant-acme', name: 'vault', uid: 'u', quotaBytes: 1, usedBytes: 0, objects: 0, appendOnly: false, encryptAtRest: true },
    endpoints: [],
    counters: { requests: 0, quotaRefusals: 0, authFailures: 0 },
  });
  const observe = (gatewayReport: GatewayReport) => spaceStatus(vault, {
    datacenter: milan,
    keys: { keyId: 'k1', custody: 'customer' },
    gateway: { metadata: { generation: 1 }, status: { observedGeneration: 1, readyReplicas: 2, updatedReplicas: 2 } },
    pods: [],
    endpoints: 0,
    gatewayReport,
  }, now);

  it('says "1 of 2 replicas sealed" and stays Sealed while any replica is, whichever replica answered', () => {
    for (const answering of ['ready', 'sealed'] as const) {
      const status = observe(report(answering, { total: 2, sealed: 1, unreachable: 0 }));
      expect(status.phase).toBe('Sealed');
      expect(status.conditions?.find((c) => c.type === 'Sealed')).toMatchObject({ status: 'True', reason: 'ReplicasSealed', message: expect.stringContaining('1 of 2 gateway replicas sealed') });
    }
  });

  it('is Ready with every replica unsealed, and says when one did not answer', () => {
    const status = observe(report('ready', { total: 2, sealed: 0, unreachable: 1 }));
    expect(status.phase).toBe('Ready');
    expect(status.conditions?.find((c) => c.type === 'Sealed')).toMatchObject({ status: 'False', message: expect.stringContaining('1 did not answer') });
    expect(observe(report('sealed', { total: 2, sealed: 2, unreachable: 0 })).conditions?.find((c) => c.type === 'Sealed')).toMatchObject({ reason: 'AwaitingCustomerPassword' });
  });

  it('reads a gateway that does not know its peers as speaking for itself', () => {
    expect(observe(report('sealed')).phase).toBe('Sealed');
    expect(observe(report('ready')).phase).toBe('Ready');
  });
});
