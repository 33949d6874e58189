import { Type, type Static } from '@sinclair/typebox';
import { defineResource } from './resource.ts';
import {
  Conditions,
  dnsSubdomain,
  immutable,
  list,
  ObservedGeneration,
  quantity,
  SecretKeyReference,
  stringEnum,
} from './schema.ts';
import { KEY_CUSTODY_MODES } from './tenant.ts';

export const ACCESS_PROTOCOLS = ['restic-rest'] as const;
export const SPACE_PHASES = ['Pending', 'Provisioning', 'Sealed', 'Ready', 'Blocked', 'Terminating'] as const;
export const MAX_SPACE_REPLICAS = 5;
/** Whether a space's gateway takes a new gateway image as soon as the operator has one (S3). */
export const UPGRADE_POLICIES = ['Automatic', 'Manual'] as const;

export const BackupSpaceSpec = Type.Object({
  size: quantity({
    description: 'Storage space of the space, e.g. 200Gi: the size of its volume and the hard limit the gateway enforces. Can grow, cannot shrink.',
  }),
  datacenter: dnsSubdomain({
    description: 'Datacenter the space lives in, chosen at creation (S7). Its country must be allowed by the tenant\'s residency. Immutable: moving data across datacenters or borders is a new space, not an edit.',
    'x-kubernetes-validations': [immutable('datacenter', 'moving data to another datacenter is a new space, not an edit')],
  }),
  replicas: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: MAX_SPACE_REPLICAS,
    default: 2,
    description: 'Copies of the space\'s gateway, each on a distinct node of the datacenter (S5). With 1 there is no redundancy.',
  })),
  encryption: Type.Optional(Type.Object({
    keyCustody: Type.Optional(stringEnum(KEY_CUSTODY_MODES, {
      description: 'Who holds the key that unwraps the space\'s data key; defaults to the tenant\'s security.keyCustody and may not be weaker than it. Cannot be changed once set.',
    })),
    customerPasswordSecretRef: Type.Optional({
      ...SecretKeyReference,
      description: 'Customer custody only, optional: a short-lived Secret (key `password` unless given) holding the customer\'s password. The operator derives the wrapping key from it, stores only the wrapped key, salt, KDF parameters and a verifier, and deletes the Secret. The password is never stored. Without it (the customer-only way, no provider credential involved) the space waits Sealed (KeyReady=False, AwaitingCustomerPassword) until a tenant admin, signed in at the gateway with password and TOTP, sets the space password (POST /v1/password {newPassword}); the gateway makes the data key and only its wrapped record reaches the key Secret. The password is changed the same way ({oldPassword, newPassword}): the data key is re-wrapped, no data is re-encrypted.',
    }),
    atRest: Type.Optional(Type.Boolean({
      default: true,
      description: 'The gateway encrypts every stored object with the space\'s data key (AES-256-GCM), for storage that does not encrypt by itself.',
    })),
  }, {
    default: {},
    description: 'Encryption of the space (S11, S13): a random 256-bit data key per space, wrapped under the chosen custody.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.keyCustody) == has(oldSelf.keyCustody) && (!has(self.keyCustody) || self.keyCustody == oldSelf.keyCustody)',
        message: 'keyCustody is immutable: the data key is already wrapped for one custody; create a new space',
        fieldPath: '.keyCustody',
      },
      {
        rule: "!has(self.customerPasswordSecretRef) || !has(self.keyCustody) || self.keyCustody == 'customer'",
        message: 'customerPasswordSecretRef is only for customer key custody',
        fieldPath: '.customerPasswordSecretRef',
        reason: 'FieldValueForbidden',
      },
    ],
  })),
  access: Type.Optional(Type.Object({
    protocol: Type.Optional(stringEnum(ACCESS_PROTOCOLS, { default: 'restic-rest', description: 'Protocol the gateway serves to backup clients: restic-rest (restic\'s REST backend, v2).' })),
    appendOnly: Type.Optional(Type.Boolean({ default: false, description: 'Endpoints may add backups but never delete or overwrite them (ransomware protection); pruning then needs the space\'s maintenance credential.' })),
    tlsSecretName: Type.Optional(dnsSubdomain({ description: 'Secret (type kubernetes.io/tls) with the gateway\'s serving certificate; when absent the operator issues one from its own CA.' })),
  }, { default: {}, description: 'How backup clients reach the space. Always TLS 1.2 or newer (S2).' })),
  fixedAddress: Type.Optional(Type.Object({
    ip: Type.Optional(Type.String({
      maxLength: 39,
      description: 'A specific address of the datacenter\'s pool; when absent the first free one is taken.',
      'x-kubernetes-validations': [{ rule: 'isIP(self)', message: 'must be an IP address' }],
    })),
  }, { description: 'Expose the space on a fixed, geolocated address from its datacenter\'s pool (S8), through a LoadBalancer Service.' })),
  upgrade: Type.Optional(Type.Object({
    policy: Type.Optional(stringEnum(UPGRADE_POLICIES, {
      description: 'Automatic: the gateway rolls to the operator\'s current gateway image as soon as there is a new one. Manual: it keeps the image it runs until approved (annotation tenantbackup.io/approve-upgrade set to the new image, or this field set back to Automatic); condition UpToDate says UpgradeAvailable meanwhile. Absent: the datacenter\'s spec.gatewayUpgrade.',
    })),
  }, { description: 'How the space\'s gateway is upgraded to a new gateway image (S3).' })),
}, {
  'x-kubernetes-validations': [{
    rule: 'quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0',
    message: 'size cannot shrink: a volume can grow but cannot give back space that holds data',
    fieldPath: '.size',
  }],
});
export type BackupSpaceSpec = Static<typeof BackupSpaceSpec>;

export const BackupSpaceStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  phase: Type.Optional(stringEnum(SPACE_PHASES, { description: 'Summary: Pending (not yet built), Provisioning, Sealed (customer key not unlocked), Ready, Blocked (a rule is broken; see Stalled), Terminating.' })),
  capacity: Type.Optional(Type.String({ maxLength: 64, description: 'Capacity of the space\'s volume, as bound.' })),
  usedBytes: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'Bytes stored, as the gateway reports them.' })),
  used: Type.Optional(Type.String({ maxLength: 64, description: 'Bytes stored, human-readable.' })),
  datacenter: Type.Optional(Type.String({ maxLength: 253, description: 'Datacenter the space is pinned to.' })),
  country: Type.Optional(Type.String({ maxLength: 2, description: 'Country of that datacenter.' })),
  nodes: Type.Optional(list(Type.String({ maxLength: 253 }), { maxItems: 16, description: 'Nodes the space\'s gateway pods run on, as the scheduler bound them.' })),
  keyId: Type.Optional(Type.String({ maxLength: 64, description: 'Identifier of the space\'s data key (not the key).' })),
  keyCustody: Type.Optional(stringEnum(KEY_CUSTODY_MODES, { description: 'Custody the data key was wrapped under.' })),
  endpoints: Type.Optional(Type.Integer({ minimum: 0, description: 'Endpoints writing to the space.' })),
  address: Type.Optional(Type.String({ maxLength: 39, description: 'Fixed address, when one was asked for.' })),
  serviceName: Type.Optional(Type.String({ maxLength: 63, description: 'Service backup clients connect to.' })),
  lastBackupTime: Type.Optional(Type.String({ format: 'date-time', description: 'Last successful backup of any endpoint.' })),
});
export type BackupSpaceStatus = Static<typeof BackupSpaceStatus>;

export const backupSpaceResource = defineResource({
  kind: 'BackupSpace',
  plural: 'backupspaces',
  singular: 'backupspace',
  shortNames: ['bs', 'space'],
  scope: 'Namespaced',
  description: 'A segregated, encrypted, quota-bound storage space of a tenant, pinned to the nodes of one datacenter. Lives in the tenant\'s namespace.',
  spec: BackupSpaceSpec,
  status: BackupSpaceStatus,
  printerColumns: [
    { name: 'Datacenter', type: 'string', jsonPath: '.spec.datacenter' },
    { name: 'Country', type: 'string', jsonPath: '.status.country' },
    { name: 'Size', type: 'string', jsonPath: '.spec.size' },
    { name: 'Used', type: 'string', jsonPath: '.status.used' },
    { name: 'Endpoints', type: 'integer', jsonPath: '.status.endpoints' },
    { name: 'Keys', type: 'string', jsonPath: '.status.keyCustody', priority: 1 },
    { name: 'Address', type: 'string', jsonPath: '.status.address', priority: 1 },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Up To Date', type: 'string', jsonPath: '.status.conditions[?(@.type=="UpToDate")].status', priority: 1, description: 'The gateway runs the operator\'s current gateway image' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
  rules: [{
    rule: 'size(self.metadata.name) <= 40',
    message: 'the space name must be at most 40 characters, so that the names of its volumes, Services and Secrets fit',
    fieldPath: '.metadata.name',
  }],
});
