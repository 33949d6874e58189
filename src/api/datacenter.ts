import { Type, type Static } from '@sinclair/typebox';
import { GatewayWorkload } from './gateway-workload.ts';
import { defineResource } from './resource.ts';
import { UPGRADE_POLICIES } from './backupspace.ts';
import {
  Conditions,
  countryCode,
  dnsSubdomain,
  labelSelector,
  list,
  ObservedGeneration,
  stringEnum,
  type KubeSchemaOptions,
} from './schema.ts';

export const VOLUME_ENCRYPTION_MODES = ['None', 'Longhorn', 'CephCSI'] as const;
export const STORAGE_ACCESS_MODES = ['ReadWriteMany', 'ReadWriteOnce'] as const;

export const DatacenterSpec = Type.Object({
  displayName: Type.Optional(Type.String({ maxLength: 128, description: 'Human-readable name, e.g. "Milano 1".' })),
  country: countryCode({ description: 'ISO 3166-1 alpha-2 code of the country the datacenter is in. Residency rules are checked against it (S7).' }),
  nodeSelector: labelSelector({
    description: 'Selects the nodes of this datacenter, typically by topology.kubernetes.io/zone or region. Only those labelled tenantbackup.io/country with this datacenter\'s country count: every pod and volume of a space in this datacenter is pinned to them with a required node affinity, and the datacenter is Stalled (ForeignNodes) while the selector matches nodes of another country. While spaces live here, changes that would move or strand them are refused.',
  }),
  storage: Type.Object({
    storageClassName: dnsSubdomain({ description: 'StorageClass the spaces\' volumes are provisioned from; its volumes must live on this datacenter\'s nodes.' }),
    accessMode: Type.Optional(stringEnum(STORAGE_ACCESS_MODES, {
      default: 'ReadWriteMany',
      description: 'Access mode of the spaces\' volumes. ReadWriteMany (datacenter-wide storage such as CephFS or Longhorn RWX): a space\'s gateway replicas run on distinct nodes and share its volume. ReadWriteOnce: a space has a single replica.',
    })),
    volumeEncryption: Type.Optional(stringEnum(VOLUME_ENCRYPTION_MODES, {
      default: 'None',
      description: 'How the StorageClass encrypts volumes, which decides the per-volume encryption Secret the operator writes: Longhorn (CRYPTO_KEY_* keys, Secret named after the PVC) or CephCSI (encryptionPassphrase). None: volumes are not encrypted by the storage, so the gateway should encrypt at rest.',
    })),
  }, { description: 'Storage of the datacenter.' }),
  addressPool: Type.Optional(Type.Object({
    addresses: list(Type.String({ maxLength: 43, description: 'An IPv4 or IPv6 address, or a CIDR block.' }), {
      minItems: 1,
      maxItems: 256,
      'x-kubernetes-list-type': 'set',
      description: 'Fixed, geolocated addresses (or CIDR blocks of them) that spaces of this datacenter may be given (S8).',
      'x-kubernetes-validations': [{
        rule: 'self.all(a, isIP(a) || isCIDR(a))',
        message: 'every address must be an IP address or a CIDR block',
      }],
    } as KubeSchemaOptions & { maxItems: number }),
    loadBalancerClass: Type.Optional(Type.String({ maxLength: 253, description: 'loadBalancerClass of the Services that carry the addresses; empty for the cluster default.' })),
  }, { description: 'Addresses for spaces that ask for a fixed IP.' })),
  gatewayUpgrade: Type.Optional(stringEnum(UPGRADE_POLICIES, {
    default: 'Automatic',
    description: 'Upgrade policy of the gateways of this datacenter\'s spaces that set no spec.upgrade.policy of their own: Automatic (roll to the operator\'s new gateway image at once) or Manual (keep the image they run until approved, or until this is set to Automatic). A provider rolls a new gateway to one datacenter first by setting the others to Manual before upgrading the operator.',
  })),
  gateway: Type.Optional({
    ...GatewayWorkload,
    description: 'Gateway pod settings for the spaces of this datacenter, over the operator\'s (chart value gateway, flag --gateway-workload, over built-in defaults sized from the gateway benchmark): resources and priorityClassName and each list replace, podLabels and podAnnotations merge key by key. Changing them rolls the gateways of the datacenter\'s spaces.',
  }),
});
export type DatacenterSpec = Static<typeof DatacenterSpec>;

export const DatacenterStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  readyNodes: Type.Optional(Type.Integer({ minimum: 0, description: 'Ready nodes the selector matches in the datacenter\'s country (label tenantbackup.io/country); nodes of another country are never counted.' })),
  nodes: Type.Optional(list(Type.String({ maxLength: 253 }), { maxItems: 256, description: 'Ready nodes the selector matches in the datacenter\'s country, by name (at most 256 listed).' })),
  spaces: Type.Optional(Type.Integer({ minimum: 0, description: 'BackupSpaces hosted here.' })),
  addressesAllocated: Type.Optional(Type.Integer({ minimum: 0, description: 'Fixed addresses of the pool in use.' })),
});
export type DatacenterStatus = Static<typeof DatacenterStatus>;

export const datacenterResource = defineResource({
  kind: 'Datacenter',
  plural: 'datacenters',
  singular: 'datacenter',
  shortNames: ['dc'],
  scope: 'Cluster',
  description: 'A datacenter where backup spaces can live: its country, the nodes that belong to it, its storage and its pool of fixed addresses. Created by the provider.',
  spec: DatacenterSpec,
  status: DatacenterStatus,
  printerColumns: [
    { name: 'Country', type: 'string', jsonPath: '.spec.country' },
    { name: 'Storage Class', type: 'string', jsonPath: '.spec.storage.storageClassName' },
    { name: 'Encryption', type: 'string', jsonPath: '.spec.storage.volumeEncryption', priority: 1 },
    { name: 'Nodes', type: 'integer', jsonPath: '.status.readyNodes', description: 'Ready nodes' },
    { name: 'Spaces', type: 'integer', jsonPath: '.status.spaces' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
});
