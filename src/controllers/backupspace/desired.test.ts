import { describe, expect, it } from 'vitest';
import { datacenter, endpoint, space, tenant } from '../../../test/support/objects.ts';
import { renderAccessConfig } from './access-config.ts';
import { chooseAddress, poolAddresses } from './address.ts';
import { KEY_SERVICE_AUDIENCE } from '../../operator/key-service.ts';
import { desiredDisruptionBudget, desiredGateway, desiredPeerPolicy, desiredService, desiredVolume, desiredVolumeEncryptionSecret, KEY_TOKEN_DIR } from './desired.ts';
import { gatewayConfigSecret, holdsPlaintextKey } from './secrets.ts';
import type { SpaceKeys } from './keys.ts';
import { spaceStatus } from './status.ts';

const milan = datacenter('it-mil1', 'IT', { nodeSelector: { matchLabels: { 'topology.kubernetes.io/zone': 'it-mil1' } }, addressPool: { addresses: ['203.0.113.0/29', '2001:db8::7'] } });
const vault = space('vault', 'tenant-acme', { size: '200Gi', replicas: 3 });
const keyService = { url: 'https://tenant-backup-keys.tbo.svc:9444', namespace: 'tbo', port: 9444 };
const settings = { gatewayImage: 'registry.example/tbo:1.2.3', keyService };

describe('the gateway\'s data key (hardening item 10)', () => {
  type Pod = {
    automountServiceAccountToken: boolean;
    serviceAccountName: string;
    containers: { args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
    volumes: { name: string; projected?: { sources: { serviceAccountToken?: { audience: string; expirationSeconds: number; path: string }; secret?: { name: string } }[] } }[];
  };
  const pod = (desiredGateway(vault, 'acme', milan, settings) as unknown as { spec: { template: { spec: Pod } } }).spec.template.spec;

  it('comes from the key service, proven by a token for the key service audience only, and no Secret holds it', () => {
    const args = pod.containers[0]?.args ?? [];
    expect(args[args.indexOf('--key-service-url') + 1]).toBe(keyService.url);
    expect(args[args.indexOf('--key-token-file') + 1]).toBe(`${KEY_TOKEN_DIR}/token`);
    // No API server token in the pod; one projected token for the key service, as the space's own ServiceAccount.
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('vault-gateway');
    const token = pod.volumes.find((v) => v.name === 'key-token')?.projected?.sources[0]?.serviceAccountToken;
    expect(token).toEqual({ audience: KEY_SERVICE_AUDIENCE, expirationSeconds: 3600, path: 'token' });
    expect(pod.containers[0]?.volumeMounts).toContainEqual(expect.objectContaining({ name: 'key-token', mountPath: KEY_TOKEN_DIR }));
    // The config Secret rendered for a provider space has no data.key.
    const secret = gatewayConfigSecret(vault, 'acme', { version: 1 } as never, 'c2Vzc2lvbg==') as unknown as { data: Record<string, string> };
    expect(Object.keys(secret.data).sort()).toEqual(['access.json', 'session.key']);
  });

  it('is reached through the space\'s NetworkPolicy, to the operator pods of the operator namespace on the key port only', () => {
    const policy = desiredPeerPolicy(vault, 'acme', keyService) as unknown as { spec: { egress: { to: unknown[]; ports: { port: number }[] }[] } };
    expect(policy.spec.egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'tbo' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'tenant-backup-operator' } } }],
      ports: [{ protocol: 'TCP', port: 9444 }],
    });
  });

  it('tells a stored config Secret that still holds the plaintext key (an older operator\'s) from a clean one', () => {
    expect(holdsPlaintextKey({ metadata: { name: 'vault-gateway-config' }, data: { 'access.json': 'e30=', 'data.key': 'a2V5' } })).toBe(true);
    expect(holdsPlaintextKey({ metadata: { name: 'vault-gateway-config' }, data: { 'access.json': 'e30=' } })).toBe(false);
    expect(holdsPlaintextKey(undefined)).toBe(false);
  });
});

describe('space desired state', () => {
  it('pins the gateway to the datacenter\'s nodes of its country and spreads its replicas over distinct nodes', () => {
    const deployment = desiredGateway(vault, 'acme', milan, settings) as unknown as { spec: { replicas: number; template: { spec: Record<string, unknown> } } };
    expect(deployment.spec.replicas).toBe(3);
    const pod = deployment.spec.template.spec as {
      affinity: { nodeAffinity: unknown; podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { topologyKey: string }[] } };
      containers: { image: string; args: string[]; securityContext: Record<string, unknown> }[];
      securityContext: Record<string, unknown>;
    };
    expect(pod.affinity.nodeAffinity).toEqual({
      // One term, so both hold: the datacenter's selector and its country (S7).
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [
        { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['it-mil1'] },
        { key: 'tenantbackup.io/country', operator: 'In', values: ['IT'] },
      ] }] },
    });
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]?.topologyKey).toBe('kubernetes.io/hostname');
    expect(pod.containers[0]?.image).toBe('registry.example/tbo:1.2.3');
    expect(pod.containers[0]?.args.slice(0, 1)).toEqual(['gateway']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it('asks for a volume of the space\'s size on the datacenter\'s storage class and access mode', () => {
    expect((desiredVolume(vault, 'acme', milan) as unknown as { spec: unknown }).spec).toEqual({
      accessModes: ['ReadWriteMany'], storageClassName: 'datacenter-storage', resources: { requests: { storage: '200Gi' } },
    });
  });

  it('exposes a fixed address through a LoadBalancer only when asked', () => {
    expect((desiredService(vault, 'acme', milan, undefined) as unknown as { spec: { type: string } }).spec.type).toBe('ClusterIP');
    const fixed = desiredService(vault, 'acme', milan, '203.0.113.2') as unknown as { spec: { type: string; loadBalancerIP: string }; metadata: { annotations: Record<string, string> } };
    expect(fixed.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerIP: '203.0.113.2' });
    expect(fixed.metadata.annotations['metallb.universe.tf/loadBalancerIPs']).toBe('203.0.113.2');
  });

  it('keeps one replica available through voluntary disruptions, when there is more than one', () => {
    expect(desiredDisruptionBudget(vault, 'acme')).toBeDefined();
    expect(desiredDisruptionBudget(space('single', 'tenant-acme', { replicas: 1 }), 'acme')).toBeUndefined();
  });

  it('writes the volume encryption Secret in the format of the datacenter\'s CSI driver, named like the claim', () => {
    const longhorn = desiredVolumeEncryptionSecret(vault, 'acme', datacenter('x', 'IT', { storage: { storageClassName: 'lh', volumeEncryption: 'Longhorn' } }), 'pass');
    expect(longhorn?.metadata.name).toBe('vault-data');
    const data = longhorn?.data as Record<string, string>;
    expect(Buffer.from(data.CRYPTO_KEY_VALUE ?? '', 'base64').toString()).toBe('pass');
    expect(Buffer.from(data.CRYPTO_KEY_PROVIDER ?? '', 'base64').toString()).toBe('secret');
    const ceph = desiredVolumeEncryptionSecret(vault, 'acme', datacenter('x', 'IT', { storage: { storageClassName: 'rbd', volumeEncryption: 'CephCSI' } }), 'pass');
    expect(Object.keys(ceph?.data as object)).toEqual(['encryptionPassphrase']);
    expect(desiredVolumeEncryptionSecret(vault, 'acme', milan, 'pass')).toBeUndefined();
  });
});

describe('fixed addresses', () => {
  it('expands the pool without network and broadcast addresses', () => {
    expect(poolAddresses(milan)).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5', '203.0.113.6', '2001:db8::7']);
  });

  it('keeps a space\'s address, honours a request, and never hands out a taken one', () => {
    const taken = new Set(['203.0.113.1']);
    expect(chooseAddress(space('b', 'ns', { fixedAddress: {} }), milan, undefined, taken)).toEqual({ ok: true, address: '203.0.113.2' });
    expect(chooseAddress(space('b', 'ns', { fixedAddress: { ip: '203.0.113.5' } }), milan, undefined, taken)).toEqual({ ok: true, address: '203.0.113.5' });
    expect(chooseAddress(space('b', 'ns', { fixedAddress: { ip: '203.0.113.1' } }), milan, undefined, taken)).toMatchObject({ ok: false, reason: 'AddressTaken' });
    expect(chooseAddress(space('b', 'ns', { fixedAddress: { ip: '198.51.100.1' } }), milan, undefined, taken)).toMatchObject({ ok: false, reason: 'AddressNotInPool' });
    expect(chooseAddress(space('b', 'ns', { fixedAddress: {} }), milan, '203.0.113.4', taken)).toEqual({ ok: true, address: '203.0.113.4' });
    // An address held from before that someone else holds now is not kept.
    expect(chooseAddress(space('b', 'ns', { fixedAddress: {} }), milan, '203.0.113.1', taken)).toEqual({ ok: true, address: '203.0.113.2' });
    expect(chooseAddress(space('b', 'ns', { fixedAddress: {} }), datacenter('de-fra1', 'DE'), undefined, new Set())).toMatchObject({ ok: false, reason: 'NoAddressPool' });
  });
});

describe('gateway access configuration', () => {
  const providerKeys: SpaceKeys = { custody: 'provider', keyId: 'k1-abc', dataKey: Buffer.alloc(32, 7), volumePassphrase: 'p' };
  const inputs = (t = tenant('acme', { security: { twoFactor: 'Required' } })) => ({
    space: vault,
    tenant: t,
    keys: providerKeys,
    endpoints: [
      { endpoint: endpoint('laptop', 'tenant-acme', 'vault'), credentialHash: '$scrypt$a' },
      { endpoint: endpoint('nas', 'tenant-acme', 'vault', { suspended: true }), credentialHash: '$scrypt$b' },
    ],
    users: [{ name: 'giulia', email: 'g@acme.example', role: 'admin' as const, passwordHash: '$scrypt$p', totpSecret: 'JBSWY3DPEHPK3PXP' }],
    maintenanceHash: '$scrypt$m',
    reportTokenHash: '$scrypt$r',
  });

  it('gives each endpoint its own repository and refuses suspended ones', () => {
    const access = renderAccessConfig(inputs());
    expect(access.endpoints).toEqual([
      { name: 'laptop', credentialHash: '$scrypt$a', repository: 'endpoints/laptop', enabled: true },
      { name: 'nas', credentialHash: '$scrypt$b', repository: 'endpoints/nas', enabled: false },
    ]);
    expect(access.space).toMatchObject({ quotaBytes: 200 * 2 ** 30, keyCustody: { mode: 'provider', keyId: 'k1-abc' } });
    expect(JSON.stringify(access)).not.toContain(providerKeys.dataKey?.toString('base64'));
  });

  it('follows the tenant\'s 2FA policy and contract', () => {
    expect(renderAccessConfig(inputs()).humans.policy).toBe('two-factor');
    expect(renderAccessConfig(inputs(tenant('acme', { security: { twoFactor: 'Optional' } }))).humans.policy).toBe('one-factor');
    const disabled = renderAccessConfig(inputs(tenant('acme', { security: { twoFactor: 'Disabled' } })));
    expect(disabled.humans).toEqual({ policy: 'disabled', users: [] });
    const suspended = renderAccessConfig(inputs(tenant('acme', { contract: { state: 'Suspended' } })));
    expect(suspended.endpoints.every((e) => !e.enabled)).toBe(true);
    expect(suspended.humans.users).toEqual([]);
  });

  it('hands the gateway the customer\'s wrapped key record, never a key', () => {
    const record = { kdf: { name: 'scrypt' as const, cost: 32768, blockSize: 8, parallelization: 1, salt: 's' }, verifier: 'v', wrappedKey: 'w' };
    const access = renderAccessConfig({ ...inputs(), keys: { custody: 'customer', keyId: 'k1-c', record, volumePassphrase: 'p' } });
    expect(access.space.keyCustody).toEqual({ mode: 'customer', keyId: 'k1-c', record });
  });
});

describe('space status', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  it('is Ready when every replica is ready and lists the nodes the scheduler chose', () => {
    const status = spaceStatus(vault, {
      datacenter: milan,
      keys: { keyId: 'k1-abc', custody: 'provider' },
      gateway: { metadata: { generation: 1 }, status: { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 3 } },
      pods: [{ spec: { nodeName: 'n2', containers: [] } }, { spec: { nodeName: 'n1', containers: [] } }, { spec: { nodeName: 'n3', containers: [] } }],
      endpoints: 2,
    }, now);
    expect(status).toMatchObject({ phase: 'Ready', country: 'IT', nodes: ['n1', 'n2', 'n3'], keyId: 'k1-abc', keyCustody: 'provider', endpoints: 2 });
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('keeps the key id it knew when the key goes missing', () => {
    const known = { ...vault, status: { keyId: 'k1-abc', keyCustody: 'provider' as const } };
    const status = spaceStatus(known, { pods: [], endpoints: 0, blocked: { state: 'stalled', reason: 'KeyMissing', message: 'gone' } }, now);
    expect(status).toMatchObject({ phase: 'Blocked', keyId: 'k1-abc' });
    expect(status.conditions?.find((c) => c.type === 'Stalled')?.reason).toBe('KeyMissing');
  });

  it('says why replicas cannot be placed', () => {
    const status = spaceStatus(vault, {
      keys: { keyId: 'k', custody: 'provider' },
      gateway: { metadata: { generation: 1 }, status: { observedGeneration: 1, readyReplicas: 2, updatedReplicas: 3 } },
      pods: [{ spec: { containers: [] }, status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/12 nodes are available' }] } }],
      endpoints: 0,
    }, now);
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'GatewayUnschedulable' });
  });
});
