import { Type, type Static } from '@sinclair/typebox';
import { GATEWAY_RESERVED_PATH_SEGMENTS } from '../gateway/access-config.ts';
import { defineResource } from './resource.ts';
import { Conditions, dnsLabel, dnsSubdomain, duration, immutable, list, ObservedGeneration, stringEnum } from './schema.ts';

export const ENDPOINT_KINDS = ['Desktop', 'Server', 'VirtualMachine'] as const;
export const OPERATING_SYSTEMS = ['Windows', 'Linux', 'macOS', 'Other'] as const;
export const ACTIVATION_STATES = ['Pending', 'Active', 'Suspended'] as const;
/** First URL segments of the gateway's own routes, and its maintenance user: no endpoint may be named so. */
export const RESERVED_ENDPOINT_NAMES: readonly string[] = [...GATEWAY_RESERVED_PATH_SEGMENTS, 'maintenance'];

const selectionPath = Type.String({ minLength: 1, maxLength: 4096 });

export const EndpointSpec = Type.Object({
  spaceRef: Type.Object({
    name: dnsSubdomain({ description: 'Name of the BackupSpace.' }),
    namespace: Type.Optional(dnsLabel({ description: 'Namespace of the BackupSpace; must be the Endpoint\'s own (an endpoint can only write to its tenant\'s spaces). Defaults to it.' })),
  }, {
    description: 'The space this endpoint backs up to. Immutable: an endpoint\'s repository lives on one space.',
    'x-kubernetes-validations': [immutable('spaceRef', 'the endpoint\'s repository lives on its space; create a new endpoint to back up elsewhere')],
  }),
  kind: stringEnum(ENDPOINT_KINDS, { description: 'What the device is; billed as one unit per month (S10).' }),
  os: Type.Optional(stringEnum(OPERATING_SYSTEMS, { description: 'Operating system of the device.' })),
  hostname: Type.Optional(Type.String({ maxLength: 253, description: 'Host name of the device, for reports.' })),
  selection: Type.Object({
    include: list(selectionPath, { minItems: 1, maxItems: 256, description: 'Paths (or patterns) the customer declared the backup includes, e.g. /home, C:\\Users. Reports show them (S1).' }),
    exclude: Type.Optional(list(selectionPath, { maxItems: 256, description: 'Patterns excluded from the backup, e.g. *.tmp.' })),
  }, { description: 'Which data the backup includes, as declared in the activation questionnaire (S1).' }),
  suspended: Type.Optional(Type.Boolean({ default: false, description: 'Refuse this endpoint\'s access without deleting anything.' })),
  expectedBackupInterval: Type.Optional(duration('expectedBackupInterval', {
    description: 'How often the device is expected to back up, as a duration such as 240s, 4m or 24h (S16). When no successful backup is seen for this long (since the last one, or since the endpoint was created), the BackupOverdue condition turns True, a Warning Event BackupOverdue is recorded and the tenantbackup_endpoint_backup_overdue metric reads 1. Absent: the tenant\'s spec.plan.expectedBackupInterval; absent there too, no freshness check. Not checked while the endpoint or the contract is suspended.',
  })),
});
export type EndpointSpec = Static<typeof EndpointSpec>;

export const EndpointStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  credentialsSecretName: Type.Optional(Type.String({ maxLength: 253, description: 'Secret holding the endpoint\'s credentials (username, password), its restic repository URL, ca.crt (the CA that signs the gateway\'s certificate), and until the device has backed up its one-time activationCode with activationExpiresAt: the device exchanges the code once, before it expires, at its gateway\'s POST /v1/enrol for these credentials.' })),
  activation: Type.Optional(stringEnum(ACTIVATION_STATES, { description: 'Pending until the device first backs up, then Active; Suspended when access is refused.' })),
  repository: Type.Optional(Type.String({ maxLength: 512, description: 'The endpoint\'s private repository path on its space.' })),
  url: Type.Optional(Type.String({ maxLength: 1024, description: 'Repository URL for the backup client (without credentials).' })),
  agentVersion: Type.Optional(Type.String({ maxLength: 128, description: 'Backup client version last seen (S3).' })),
  agentOutdated: Type.Optional(Type.Boolean({ description: 'The client is older than the oldest supported version (S3).' })),
  lastBackupTime: Type.Optional(Type.String({ format: 'date-time', description: 'Last successful backup.' })),
  bytesStored: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'Bytes this endpoint stores on its space.' })),
  stored: Type.Optional(Type.String({ maxLength: 64, description: 'Bytes stored, human-readable.' })),
});
export type EndpointStatus = Static<typeof EndpointStatus>;

export const endpointResource = defineResource({
  kind: 'Endpoint',
  plural: 'endpoints',
  singular: 'endpoint',
  // Not `ep`: that short name is the core Endpoints resource's, which kubectl would pick.
  shortNames: ['bep', 'backupendpoint'],
  scope: 'Namespaced',
  description: 'A backup device (desktop, server or virtual machine) of a tenant: its own credentials, its own repository on a space, and what it backs up. Because the plural collides with the core Endpoints resource, use `kubectl get endpoints.tenantbackup.io` or `kubectl get bep`.',
  spec: EndpointSpec,
  status: EndpointStatus,
  rules: [{
    rule: `!(self.metadata.name in [${RESERVED_ENDPOINT_NAMES.map((n) => `'${n}'`).join(', ')}])`,
    message: `the endpoint name must not be one of ${RESERVED_ENDPOINT_NAMES.join(', ')}: the gateway reserves them for its own routes and the maintenance user`,
    fieldPath: '.metadata.name',
  }, {
    rule: 'size(self.metadata.name) <= 40',
    message: 'the endpoint name must be at most 40 characters, so that its credentials Secret name fits',
    fieldPath: '.metadata.name',
  }],
  printerColumns: [
    { name: 'Space', type: 'string', jsonPath: '.spec.spaceRef.name' },
    { name: 'Kind', type: 'string', jsonPath: '.spec.kind' },
    { name: 'OS', type: 'string', jsonPath: '.spec.os' },
    { name: 'Activation', type: 'string', jsonPath: '.status.activation' },
    { name: 'Last Backup', type: 'date', jsonPath: '.status.lastBackupTime' },
    { name: 'Overdue', type: 'string', jsonPath: '.status.conditions[?(@.type=="BackupOverdue")].status', description: 'No backup within the expected interval (empty: not checked)' },
    { name: 'Stored', type: 'string', jsonPath: '.status.stored' },
    { name: 'Agent', type: 'string', jsonPath: '.status.agentVersion', priority: 1 },
    { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspended', priority: 1 },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
});
