import { Type, type Static } from '@sinclair/typebox';
import { defineResource } from './resource.ts';
import {
  Conditions,
  countryCode,
  dnsLabel,
  dnsSubdomain,
  duration,
  email,
  immutable,
  list,
  ObservedGeneration,
  quantity,
  stringEnum,
} from './schema.ts';

export const SLA_TIERS = ['base', 'premium'] as const;
export const BILLING_MODES = ['hourly', 'monthly'] as const;
export const TWO_FACTOR_MODES = ['Required', 'Optional', 'Disabled'] as const;
export const KEY_CUSTODY_MODES = ['provider', 'customer'] as const;
export const CONTRACT_STATES = ['Active', 'Suspended', 'Terminated'] as const;
export const USER_ROLES = ['admin', 'operator', 'viewer'] as const;
export const CONTACT_ROLES = ['administrative', 'technical', 'billing'] as const;
export const REPORT_PERIODS = ['Off', 'Daily', 'Weekly', 'Monthly'] as const;
export const REPORT_LANGUAGES = ['it', 'en'] as const;

/** The largest storage quota a tenant can have: far past any contract, and within the int64 of a ResourceQuota. */
export const MAX_TENANT_STORAGE = '1Ei';
const MAX_TENANT_STORAGE_BYTES = 2n ** 60n;

/** Namespaces are named `tenant-<tenant name>`, and must fit in 63 characters. */
export const TENANT_NAME_MAX_LENGTH = 56;

const ProviderObjectKey = (what: string) => Type.Object({
  namespace: dnsLabel({ description: `Namespace of the ${what} (the provider's, not the tenant's, which is deleted at termination).` }),
  name: dnsSubdomain({ description: `Name of the ${what}.` }),
  key: Type.Optional(Type.String({ minLength: 1, maxLength: 253, default: 'ca.crt', description: `Key of the ${what} holding the PEM bundle.` })),
}, { description: `A ${what} of the provider.` });

/** Where the termination export goes: exactly one of a volume or an S3-compatible bucket. */
export const ExportTarget = Type.Object({
  persistentVolumeClaim: Type.Optional(Type.Object({
    namespace: dnsLabel({ description: 'Namespace of the claim (the provider\'s, not the tenant\'s, which is deleted).' }),
    claimName: dnsSubdomain({ description: 'Name of the claim the export archives are written to.' }),
  }, { description: 'A volume the export is written to.' })),
  s3: Type.Optional(Type.Object({
    endpoint: Type.Optional(Type.String({
      maxLength: 2048,
      description: 'URL of the S3-compatible service, e.g. https://s3.example.net:9000; absent: AWS S3 of the region.',
      'x-kubernetes-validations': [{ rule: "isURL(self) && self.startsWith('https://')", message: 'endpoint must be an https:// URL (S2: secure protocols only)' }],
    })),
    bucket: Type.String({ minLength: 3, maxLength: 63, pattern: '^[a-z0-9][a-z0-9.-]*[a-z0-9]$', description: 'Bucket the archives are uploaded to.' }),
    prefix: Type.Optional(Type.String({ maxLength: 512, default: '', pattern: '^([^/].*)?$', description: 'Key prefix of the archives (no leading /), e.g. exports/acme.' })),
    region: Type.String({ minLength: 1, maxLength: 64, description: 'Region of the bucket (any value the service accepts, e.g. us-east-1).' }),
    credentialsSecretRef: Type.Object({
      namespace: dnsLabel({ description: 'Namespace of the Secret (the provider\'s).' }),
      name: dnsSubdomain({ description: 'Secret with keys accessKeyId and secretAccessKey.' }),
    }, { description: 'Credentials of the bucket: a Secret with keys accessKeyId and secretAccessKey, readable by the operator.' }),
    caBundle: Type.Optional(Type.Object({
      configMapRef: Type.Optional(ProviderObjectKey('ConfigMap')),
      secretRef: Type.Optional(ProviderObjectKey('Secret')),
    }, {
      description: 'PEM bundle of the CAs that sign the service\'s certificate, when not a public CA.',
      'x-kubernetes-validations': [{ rule: 'has(self.configMapRef) != has(self.secretRef)', message: 'caBundle takes exactly one of configMapRef or secretRef' }],
    })),
  }, { description: 'An S3-compatible object store the export is uploaded to (multipart).' })),
}, {
  description: 'Where the termination export goes: exactly one of persistentVolumeClaim or s3.',
  'x-kubernetes-validations': [{ rule: 'has(self.persistentVolumeClaim) != has(self.s3)', message: 'exportTarget takes exactly one of persistentVolumeClaim or s3' }],
});
export type ExportTarget = Static<typeof ExportTarget>;

export const TenantSpec = Type.Object({
  displayName: Type.String({ minLength: 1, maxLength: 128, description: 'The customer\'s name as it appears in reports, e.g. "Acme S.p.A.".' }),
  contacts: list(Type.Object({
    name: Type.String({ minLength: 1, maxLength: 128, description: 'Contact person.' }),
    email: email({ description: 'Where reports and notices go.' }),
    role: Type.Optional(stringEnum(CONTACT_ROLES, { default: 'technical', description: 'What the contact is for.' })),
  }), { minItems: 1, maxItems: 16, description: 'People the provider writes to: periodic backup reports (S4), notices, termination.' }),
  plan: Type.Optional(Type.Object({
    tier: Type.Optional(stringEnum(SLA_TIERS, { default: 'base', description: 'SLA tier.' })),
    billing: Type.Optional(stringEnum(BILLING_MODES, { default: 'monthly', description: 'Billing period: per started hour or per month (S10).' })),
    expectedBackupInterval: Type.Optional(duration('expectedBackupInterval', {
      description: 'How often the plan expects each device to back up, e.g. 240s for a plan that snapshots every 4 minutes, or 24h for daily backups (S16): the default of every Endpoint of the tenant that sets no spec.expectedBackupInterval of its own. An endpoint with no backup for this long has BackupOverdue True. Absent: no freshness check for those endpoints.',
    })),
  }, { default: { tier: 'base', billing: 'monthly' }, description: 'Commercial plan.' })),
  residency: Type.Object({
    countries: Type.Optional(list(countryCode(), {
      minItems: 1,
      maxItems: 32,
      'x-kubernetes-list-type': 'set',
      description: 'Countries (ISO 3166-1 alpha-2) where the customer\'s data may be stored (S7).',
    })),
    datacenters: Type.Optional(list(dnsSubdomain(), {
      minItems: 1,
      maxItems: 32,
      'x-kubernetes-list-type': 'set',
      description: 'Datacenters the customer chose; when set, spaces may only be created in these (and in allowed countries, if countries is set too).',
    })),
  }, {
    description: 'Where the customer\'s data may live. Every space must be in a datacenter these allow; a space that breaks the rule is refused.',
    'x-kubernetes-validations': [{
      rule: 'has(self.countries) || has(self.datacenters)',
      message: 'residency must allow at least one country or datacenter',
    }],
  }),
  quotas: Type.Object({
    storage: quantity({
      description: `Total storage of all spaces (sum of their sizes), e.g. 500Gi: more than 0 and at most ${MAX_TENANT_STORAGE}. Enforced by the API server through a ResourceQuota.`,
      maxLength: 64,
      'x-kubernetes-validations': [{
        // A negative or zero quota admits nothing, and one past 1Ei no longer fits the int64 a
        // ResourceQuota holds: the tenant would get a namespace without quota, policies or limits.
        rule: `type(self) == string ? (isQuantity(self) && quantity(self).isGreaterThan(quantity('0')) && quantity(self).compareTo(quantity('${MAX_TENANT_STORAGE}')) <= 0) : (self > 0 && self <= ${MAX_TENANT_STORAGE_BYTES})`,
        message: `storage must be more than 0 and at most ${MAX_TENANT_STORAGE} (e.g. 500Gi)`,
      }],
    }),
    spaces: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 1, description: 'Maximum number of BackupSpaces.' })),
    endpoints: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, default: 10, description: 'Maximum number of Endpoints (backup devices), counted monthly for billing (S10).' })),
  }, { description: 'Limits of the contract.' }),
  security: Type.Optional(Type.Object({
    twoFactor: Type.Optional(stringEnum(TWO_FACTOR_MODES, { default: 'Optional', description: 'Two-factor authentication for the tenant\'s people (S12): Required (password and TOTP), Optional (TOTP when enrolled), Disabled (no human access routes).' })),
    keyCustody: Type.Optional(stringEnum(KEY_CUSTODY_MODES, {
      default: 'provider',
      description: 'Who can unlock the spaces\' data keys (S6, S13). provider: wrapped by the operator\'s master key. customer: wrapped by a key derived from a password only the customer knows, which a tenant admin sets and changes at the space\'s gateway (signed in with password and TOTP) with no provider credential involved; the provider cannot read the data, and a lost password means the data is lost. Cannot be changed once set.',
      'x-kubernetes-validations': [immutable('keyCustody', 'keys already wrapped for one custody cannot be handed to another; create a new tenant')],
    })),
  }, { default: { twoFactor: 'Optional', keyCustody: 'provider' }, description: 'Security options.' })),
  users: Type.Optional(list(Type.Object({
    name: dnsLabel({ description: 'User name, unique in the tenant.' }),
    email: email({ description: 'The user\'s email.' }),
    role: Type.Optional(stringEnum(USER_ROLES, { default: 'viewer', description: 'admin: manage spaces and endpoints, unseal customer-held keys; operator: manage endpoints; viewer: read usage and reports.' })),
  }), {
    maxItems: 64,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
    description: 'The customer\'s people. Each gets RBAC in the tenant namespace and, unless two-factor is Disabled, a TOTP enrolment (otpauth URI and QR code) in a Secret only they can read.',
  })),
  reports: Type.Optional(Type.Object({
    // Monthly by default: the service terms promise every customer a periodic summary (S4), and a
    // month is the period the contracts bill by; Off is the explicit opt-out.
    period: Type.Optional(stringEnum(REPORT_PERIODS, { default: 'Monthly', description: 'How often the backup report is e-mailed to the contacts (S4): Daily (UTC calendar day), Weekly (ISO week, Monday to Sunday, UTC), Monthly (calendar month, UTC), or Off. A period\'s report is sent once, after the period has ended; periods that ended before the tenant existed are not reported.' })),
    language: Type.Optional(stringEnum(REPORT_LANGUAGES, { default: 'it', description: 'Language of the report: it (Italian) or en (English).' })),
  }, { default: { period: 'Monthly', language: 'it' }, description: 'Periodic backup reports by e-mail (S4, S15): per endpoint the last backup, snapshots and bytes added (full, incremental, metadata), refusals, overdue devices, outdated agents, and space usage against quota. A copy of each report is kept in the tenant namespace as ConfigMap backup-report-<period>, readable by the tenant\'s users.' })),
  contract: Type.Optional(Type.Object({
    state: Type.Optional(stringEnum(CONTRACT_STATES, { default: 'Active', description: 'Active: service runs. Suspended: access is refused, data kept. Terminated: data is exported (unless waived), verified, then destroyed (S14).' })),
    endDate: Type.Optional(Type.String({ format: 'date', description: 'Date the contract ended (YYYY-MM-DD); only for a Terminated contract.' })),
    exportOnTermination: Type.Optional(Type.Boolean({ default: true, description: 'Export every space in a standard, verifiable format before anything is destroyed. Setting false is an explicit waiver: data is destroyed without an export.' })),
    exportTarget: Type.Optional(ExportTarget),
  }, {
    default: { state: 'Active', exportOnTermination: true },
    description: 'The contract, which drives suspension and termination.',
    'x-kubernetes-validations': [
      { rule: "!has(self.endDate) || self.state == 'Terminated'", message: 'endDate is only allowed with a Terminated contract', fieldPath: '.endDate' },
      {
        rule: "self.state != 'Terminated' || !self.exportOnTermination || has(self.exportTarget)",
        message: 'a Terminated contract with exportOnTermination needs an exportTarget (or exportOnTermination: false to waive the export)',
        fieldPath: '.exportTarget',
        reason: 'FieldValueRequired',
      },
      { rule: "oldSelf.state != 'Terminated' || self.state == 'Terminated'", message: 'a Terminated contract cannot be reactivated', fieldPath: '.state' },
    ],
  })),
});
export type TenantSpec = Static<typeof TenantSpec>;

const UsageOf = (what: string) => Type.Object({
  used: Type.Optional(Type.String({ maxLength: 64, description: `${what} in use.` })),
  hard: Type.Optional(Type.String({ maxLength: 64, description: `${what} allowed.` })),
}, { description: `${what}: use against the quota.` });

export const TERMINATION_PHASES = ['Suspending', 'Exporting', 'Verifying', 'Shredding', 'Deleting', 'Done'] as const;

export const SpaceTerminationStatus = Type.Object({
  name: Type.String({ maxLength: 253, description: 'BackupSpace name.' }),
  uid: Type.String({ maxLength: 64, description: 'BackupSpace uid: the export belongs to this space, not to a later one of the same name.' }),
  exportId: Type.Optional(Type.String({ maxLength: 63, description: 'Deterministic id of the space\'s export (from tenant and space uids): a restart never makes a second export.' })),
  location: Type.Optional(Type.String({ maxLength: 2048, description: 'Where the archive is: pvc://<namespace>/<claim>/<archive> on the target claim (a host path under --export-runner=local), or s3://bucket/key.' })),
  size: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'Archive size in bytes.' })),
  sha256: Type.Optional(Type.String({ maxLength: 64, description: 'SHA-256 of the archive (hex), as in <archive>.sha256.' })),
  exportedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the archive was written.' })),
  verifiedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the archive was re-read from the target and matched its digests.' })),
  keyId: Type.Optional(Type.String({ maxLength: 64, description: 'Data key destroyed by the crypto-shred.' })),
  shreddedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the space\'s key material was destroyed.' })),
}, { description: 'Termination progress of one space.' });

export const TerminationStatus = Type.Object({
  phase: stringEnum(TERMINATION_PHASES, { description: 'Step of the termination state machine: Suspending, Exporting, Verifying, Shredding, Deleting, Done.' }),
  startedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When termination began.' })),
  completedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When everything of the tenant was gone.' })),
  exportVerified: Type.Optional(Type.Boolean({ description: 'Every space\'s export was verified against its checksums.' })),
  exportWaived: Type.Optional(Type.Boolean({ description: 'The contract waived the export (exportOnTermination: false): data was destroyed without one.' })),
  record: Type.Optional(Type.String({ maxLength: 253, description: 'ConfigMap in the operator\'s namespace holding the termination record (the evidence, which outlives the tenant).' })),
  message: Type.Optional(Type.String({ maxLength: 1024, description: 'What the current step is doing or waiting for.' })),
  spaces: Type.Optional(list(SpaceTerminationStatus, {
    maxItems: 1000,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['uid'],
    description: 'Per-space progress: export id, location, size, SHA-256, verification, shredding.',
  })),
}, { description: 'Progress of termination, mirrored from the termination record.' });
export type TerminationStatus = Static<typeof TerminationStatus>;
export type SpaceTerminationStatus = Static<typeof SpaceTerminationStatus>;

export const TenantStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  namespace: Type.Optional(Type.String({ maxLength: 63, description: 'Namespace that holds the tenant\'s spaces and endpoints.' })),
  phase: Type.Optional(stringEnum(['Pending', 'Active', 'Suspended', 'Terminating', 'Terminated'] as const, { description: 'Summary of the tenant\'s lifecycle.' })),
  usage: Type.Optional(Type.Object({
    storage: Type.Optional(UsageOf('Storage')),
    spaces: Type.Optional(UsageOf('Spaces')),
    endpoints: Type.Optional(UsageOf('Endpoints')),
  }, { description: 'Use against quotas, as the API server\'s ResourceQuota counts it.' })),
  termination: Type.Optional(TerminationStatus),
});
export type TenantStatus = Static<typeof TenantStatus>;

export const tenantResource = defineResource({
  kind: 'Tenant',
  plural: 'tenants',
  singular: 'tenant',
  shortNames: ['tn'],
  scope: 'Cluster',
  description: 'A customer under contract: who they are, where their data may live, their quotas, security choices, people and contract state. The operator gives each tenant its own isolated namespace.',
  spec: TenantSpec,
  status: TenantStatus,
  rules: [{
    rule: `size(self.metadata.name) <= ${TENANT_NAME_MAX_LENGTH}`,
    message: `the tenant name must be at most ${TENANT_NAME_MAX_LENGTH} characters, so that its namespace tenant-<name> fits in 63`,
    fieldPath: '.metadata.name',
  }, {
    rule: `self.metadata.name.matches('${'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}')`,
    message: 'the tenant name must be a DNS label (lower-case letters, digits and -), as it names a namespace',
    fieldPath: '.metadata.name',
  }],
  printerColumns: [
    { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName' },
    { name: 'Tier', type: 'string', jsonPath: '.spec.plan.tier' },
    { name: 'Contract', type: 'string', jsonPath: '.spec.contract.state' },
    { name: 'Namespace', type: 'string', jsonPath: '.status.namespace' },
    { name: 'Storage', type: 'string', jsonPath: '.status.usage.storage.used', description: 'Storage requested by spaces' },
    { name: 'Quota', type: 'string', jsonPath: '.spec.quotas.storage' },
    { name: 'Spaces', type: 'string', jsonPath: '.status.usage.spaces.used' },
    { name: 'Endpoints', type: 'string', jsonPath: '.status.usage.endpoints.used', priority: 1 },
    { name: '2FA', type: 'string', jsonPath: '.spec.security.twoFactor', priority: 1 },
    { name: 'Keys', type: 'string', jsonPath: '.spec.security.keyCustody', priority: 1 },
    { name: 'Termination', type: 'string', jsonPath: '.status.termination.phase', priority: 1 },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
});
