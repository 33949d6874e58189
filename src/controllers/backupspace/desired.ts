/**
 * What a BackupSpace turns into, as pure functions: a volume on its datacenter's StorageClass, a
 * gateway Deployment pinned by required node affinity to the datacenter's nodes of its country with its replicas on
 * distinct nodes (S5), a Service (a LoadBalancer on a fixed address when asked, S8), a disruption
 * budget, and the per-volume encryption Secret in the format the datacenter's CSI driver reads.
 * Beside the Service, a headless one and a NetworkPolicy through which the replicas find and reach
 * each other to relay an unseal (src/gateway/peers.ts).
 */
import { DEFAULT_REPLICAS } from '../../admission/rules.ts';
import type { GatewayWorkload } from '../../api/gateway-workload.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { GATEWAY_NODE_FLAGS } from '../../gateway/command.ts';
import { base64 } from '../../runtime/kube/secrets.ts';
import { controllerReference } from '../../runtime/object.ts';
import { datacenterNodeSelectorTerm } from '../datacenter/nodes.ts';
import {
  COMPONENT_LABEL,
  GATEWAY_COMPONENT,
  GATEWAY_WORKLOAD_ANNOTATION,
  GATEWAY_PORT,
  INSTANCE_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  NAME_LABEL,
  OPERATOR_NAME,
  SECRET_TYPE_LABEL,
  SPACE_LABEL,
  spaceObjectNames,
  TENANT_LABEL,
  type SecretType,
} from '../labels.ts';
import { DEFAULT_GATEWAY_WORKLOAD, gatewayPodFields, gatewayWorkloadDigest, mergeGatewayWorkload } from './gateway-workload.ts';

export const GATEWAY_NAME = 'tenant-backup-gateway';
/** The entry point inside the image (Dockerfile: WORKDIR /app, compiled to dist/). */
export const IMAGE_ENTRY_POINT = '/app/dist/cli/main.js';
export const CONFIG_DIR = '/etc/gateway';
export const DATA_DIR = '/data';

/** Where gateways get their data key (src/operator/key-service.ts). */
export interface KeyServiceLocation {
  /** Base URL, e.g. https://tenant-backup-keys.tenant-backup-system.svc:9444. */
  url: string;
  /** The operator's namespace, which the gateways' egress to the key service is opened to. */
  namespace: string;
  /** The operator pods' key service port (the NetworkPolicy sees traffic after Service translation). */
  port: number;
}

export interface SpaceSettings {
  /** Image of the gateway: the operator's own image, so upgrading the operator rolls the gateways (S3). */
  gatewayImage: string;
  /** The operator's gateway pod settings (chart value `gateway`), between the defaults and each Datacenter's. */
  gatewayWorkload?: GatewayWorkload;
  keyService: KeyServiceLocation;
}

/** Where the gateway's projected ServiceAccount token for the key service is mounted. */
export const KEY_TOKEN_DIR = '/var/run/secrets/tenantbackup.io/key-service';
/** The audience of that token: the key service's (src/operator/key-service.ts KEY_SERVICE_AUDIENCE). */
export const KEY_TOKEN_AUDIENCE = 'tenantbackup.io/key-service';
/** Short-lived: the kubelet renews it; the gateway reads it again at each fetch. */
const KEY_TOKEN_SECONDS = 3600;

/** Arguments of the gateway (and export) command that point it at the key service. */
export function keyServiceArgs(keyService: KeyServiceLocation): string[] {
  return ['--key-service-url', keyService.url, '--key-token-file', `${KEY_TOKEN_DIR}/token`];
}

/**
 * The pod's ServiceAccount token for the key service's audience only (the pod mounts no API server
 * token: automountServiceAccountToken stays false), and where it is mounted.
 */
export function keyTokenVolume() {
  return { name: 'key-token', projected: { defaultMode: 0o440, sources: [{ serviceAccountToken: { audience: KEY_TOKEN_AUDIENCE, expirationSeconds: KEY_TOKEN_SECONDS, path: 'token' } }] } };
}
export function keyTokenMount() {
  return { name: 'key-token', mountPath: KEY_TOKEN_DIR, readOnly: true };
}

/** Egress to the operator's key service pods (the tenant namespace denies all egress otherwise). */
export function keyServiceEgress(keyService: KeyServiceLocation) {
  return {
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': keyService.namespace } }, podSelector: { matchLabels: { [NAME_LABEL]: OPERATOR_NAME } } }],
    ports: [{ protocol: 'TCP', port: keyService.port }],
  };
}

export function spaceLabels(space: BackupSpace, tenant: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: tenant, [SPACE_LABEL]: space.metadata.name ?? '' };
}

/** Labels that select a space's gateway pods (stable: a Deployment's selector cannot change). */
export function gatewaySelector(space: Pick<BackupSpace, 'metadata'>): Record<string, string> {
  return { [NAME_LABEL]: GATEWAY_NAME, [INSTANCE_LABEL]: space.metadata.name ?? '', [COMPONENT_LABEL]: GATEWAY_COMPONENT };
}

function metadata(space: BackupSpace, tenant: string, name: string, extraLabels: Record<string, string> = {}) {
  return {
    name,
    namespace: space.metadata.namespace,
    labels: { ...spaceLabels(space, tenant), ...extraLabels },
    ownerReferences: [controllerReference(space)],
  };
}

export function replicasOf(space: BackupSpace): number {
  return space.spec.replicas ?? DEFAULT_REPLICAS;
}

export function desiredVolume(space: BackupSpace, tenant: string, datacenter: Datacenter): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').volume),
    spec: {
      accessModes: [datacenter.spec.storage.accessMode ?? 'ReadWriteMany'],
      storageClassName: datacenter.spec.storage.storageClassName,
      resources: { requests: { storage: String(space.spec.size) } },
    },
  };
}

export function desiredServiceAccount(space: BackupSpace, tenant: string): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: metadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').serviceAccount),
    // The gateway never talks to the API server.
    automountServiceAccountToken: false,
  };
}

export function desiredGateway(space: BackupSpace, tenant: string, datacenter: Datacenter, settings: SpaceSettings): ApplyObject {
  const names = spaceObjectNames(space.metadata.name ?? '');
  const selector = gatewaySelector(space);
  const workload = mergeGatewayWorkload(DEFAULT_GATEWAY_WORKLOAD, settings.gatewayWorkload, datacenter.spec.gateway);
  const pod = gatewayPodFields(workload, { ...spaceLabels(space, tenant), ...selector }, selector);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { ...metadata(space, tenant, names.gateway, { [COMPONENT_LABEL]: GATEWAY_COMPONENT }), annotations: { [GATEWAY_WORKLOAD_ANNOTATION]: gatewayWorkloadDigest(workload) } },
    spec: {
      replicas: replicasOf(space),
      selector: { matchLabels: selector },
      // A shared volume and at most one missing replica at a time.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      template: {
        metadata: { labels: pod.labels, ...(pod.annotations ? { annotations: pod.annotations } : {}) },
        spec: {
          ...pod.spec,
          serviceAccountName: names.serviceAccount,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: {
            // Data stays in the chosen datacenter (S7): only its nodes may run the gateway, and only
            // those in its country, whatever else the selector matches.
            nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [datacenterNodeSelectorTerm(datacenter)] } },
            // Redundancy (S5): never two replicas of a space on one node.
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' }],
            },
          },
          containers: [{
            name: 'gateway',
            image: settings.gatewayImage,
            // Node flags the gateway needs cannot go through NODE_OPTIONS (see GATEWAY_NODE_FLAGS).
            command: ['node', ...GATEWAY_NODE_FLAGS, IMAGE_ENTRY_POINT],
            // The data key comes from the operator's key service at start, never from a Secret
            // (hardening item 10); the operator's CA (ca.crt of the TLS Secret) verifies the service.
            args: ['gateway', '--config-dir', CONFIG_DIR, '--data-dir', DATA_DIR, '--listen', `0.0.0.0:${GATEWAY_PORT}`, '--peers-dns', names.peersService, ...keyServiceArgs(settings.keyService)],
            ports: [{ name: 'https', containerPort: GATEWAY_PORT, protocol: 'TCP' }],
            resources: pod.resources,
            readinessProbe: { httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10 },
            livenessProbe: { httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 20, failureThreshold: 3 },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
              { name: 'data', mountPath: DATA_DIR },
              { name: 'tmp', mountPath: '/tmp' },
              keyTokenMount(),
            ],
          }],
          volumes: [
            {
              name: 'config',
              projected: {
                defaultMode: 0o440,
                // ca.crt: the replicas verify each other against it before relaying a password.
                sources: [{ secret: { name: names.configSecret } }, { secret: { name: names.tlsSecret, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }, { key: 'ca.crt', path: 'ca.crt' }] } }],
              },
            },
            { name: 'data', persistentVolumeClaim: { claimName: names.volume } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            keyTokenVolume(),
          ],
        },
      },
    },
  };
}

export function desiredService(space: BackupSpace, tenant: string, datacenter: Datacenter, address: string | undefined): ApplyObject {
  const fixed = address !== undefined;
  const loadBalancerClass = datacenter.spec.addressPool?.loadBalancerClass;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      ...metadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').gateway, { [COMPONENT_LABEL]: GATEWAY_COMPONENT }),
      // MetalLB and most bare-metal load balancers read the wanted address from here; cloud ones from spec.loadBalancerIP.
      ...(fixed ? { annotations: { 'metallb.universe.tf/loadBalancerIPs': address, 'tenantbackup.io/fixed-address': address } } : {}),
    },
    spec: {
      type: fixed ? 'LoadBalancer' : 'ClusterIP',
      selector: gatewaySelector(space),
      ports: [{ name: 'https', port: GATEWAY_PORT, targetPort: 'https', protocol: 'TCP' }],
      ...(fixed ? { loadBalancerIP: address, externalTrafficPolicy: 'Local', ...(loadBalancerClass ? { loadBalancerClass } : {}) } : {}),
    },
  };
}

/**
 * A headless Service listing every gateway pod of the space, ready or not (a replica that has just
 * started is ready — it serves the unseal route — but a sealed one should be found as early as
 * possible): each gateway resolves it to find the others (`--peers-dns`).
 */
export function desiredPeerService(space: BackupSpace, tenant: string): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').peersService, { [COMPONENT_LABEL]: GATEWAY_COMPONENT }),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: gatewaySelector(space),
      ports: [{ name: 'https', port: GATEWAY_PORT, targetPort: 'https', protocol: 'TCP' }],
    },
  };
}

/** Where the cluster's DNS runs (CoreDNS keeps the kube-dns name and label on every distribution we know). */
export const CLUSTER_DNS = { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } } as const;

/**
 * The tenant namespace denies all traffic in and out (tenant/desired.ts). This opens, for this
 * space's gateway pods only, what the unseal relay needs: the gateway port between them (in and
 * out), and DNS to the cluster's resolver for the peer lookup. Other spaces' gateways, even of the
 * same tenant, stay out. Policies add up, so the client ingress of the tenant's policy still applies.
 */
export function desiredPeerPolicy(space: BackupSpace, tenant: string, keyService?: KeyServiceLocation): ApplyObject {
  const peers = { podSelector: { matchLabels: gatewaySelector(space) } };
  const gatewayPort = [{ protocol: 'TCP', port: GATEWAY_PORT }];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').peersService, { [COMPONENT_LABEL]: GATEWAY_COMPONENT }),
    spec: {
      podSelector: { matchLabels: gatewaySelector(space) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [peers], ports: gatewayPort }],
      egress: [
        { to: [peers], ports: gatewayPort },
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': CLUSTER_DNS.namespace } }, podSelector: { matchLabels: { ...CLUSTER_DNS.podLabels } } }],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        },
        // The operator's key service, where the gateway gets its data key at start.
        ...(keyService ? [keyServiceEgress(keyService)] : []),
      ],
    },
  };
}

export function desiredDisruptionBudget(space: BackupSpace, tenant: string): ApplyObject | undefined {
  if (replicasOf(space) < 2) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').disruptionBudget),
    spec: { maxUnavailable: 1, selector: { matchLabels: gatewaySelector(space) } },
  };
}

export function secretMetadata(space: BackupSpace, tenant: string, name: string, type: SecretType) {
  return metadata(space, tenant, name, { [SECRET_TYPE_LABEL]: type });
}

/**
 * The per-volume encryption Secret, named like the claim so that StorageClasses templating
 * `${pvc.name}`/`${pvc.namespace}` into their secret parameters find it:
 * Longhorn reads CRYPTO_KEY_*; ceph-csi reads encryptionPassphrase. None: no Secret.
 */
export function desiredVolumeEncryptionSecret(space: BackupSpace, tenant: string, datacenter: Datacenter, passphrase: string): ApplyObject | undefined {
  const mode = datacenter.spec.storage.volumeEncryption ?? 'None';
  if (mode === 'None') return undefined;
  const data: Record<string, string> = mode === 'Longhorn'
    ? { CRYPTO_KEY_VALUE: passphrase, CRYPTO_KEY_PROVIDER: 'secret', CRYPTO_KEY_CIPHER: 'aes-xts-plain64', CRYPTO_KEY_HASH: 'sha256', CRYPTO_KEY_SIZE: '256', CRYPTO_PBKDF: 'argon2i' }
    : { encryptionPassphrase: passphrase };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: secretMetadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').volumeEncryptionSecret, 'volume-encryption'),
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, base64(v)])),
  };
}
