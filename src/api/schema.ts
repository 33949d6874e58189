/**
 * Building blocks for the CRD schemas. The schemas are written once, with TypeBox, and serve three
 * purposes: the OpenAPI v3 schema of each CRD (crds/ is generated from them), the TypeScript types
 * of the operator (Static<>), and offline validation with ajv (the `validate` command). Only
 * constructs that are valid *structural* Kubernetes schemas are used: no anyOf/oneOf except for
 * int-or-string, maps through additionalProperties, enums as string enums.
 */
import { Type, type SchemaOptions, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { ISO_COUNTRY_CODES } from './countries.ts';

/** A CEL validation rule, as the API server evaluates it (x-kubernetes-validations). */
export interface CelRule {
  rule: string;
  message: string;
  /** Path, relative to the node the rule is on, of the field the message is about (e.g. `.endDate`). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface KubeSchemaOptions extends SchemaOptions {
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** Immutable once set: the API server compares with the stored value on every update. */
export function immutable(what: string, why: string): CelRule {
  return { rule: 'self == oldSelf', message: `${what} is immutable: ${why}` };
}

export function stringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions & { default?: T[number] } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** RFC 1123 label: what a namespace or most object names may be. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** RFC 1123 subdomain: what StorageClass, Secret and Datacenter names may be. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

export function dnsLabel(options: SchemaOptions = {}) {
  return Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL_PATTERN, ...options });
}

export function dnsSubdomain(options: SchemaOptions = {}) {
  return Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN_PATTERN, ...options });
}

/** Kubernetes resource.Quantity syntax (e.g. 500Gi, 1T, 1.5Ti), the same regular expression as apimachinery. */
export const QUANTITY_PATTERN = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A storage amount: int-or-string in quantity syntax, like a PVC's storage request. */
export function quantity(options: KubeSchemaOptions = {}): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
    ...options,
  });
}

/** Go duration syntax (time.ParseDuration) restricted to hours, minutes and seconds, e.g. 240s, 4m, 1h30m, 24h. */
export const DURATION_PATTERN = '^([0-9]+([.][0-9]+)?(h|m|s))+$';

/**
 * A positive duration of at least a second, as a Go-style string. One CEL rule (not a pattern) checks
 * it, so the API server's refusal names the field and says what is expected in one message.
 */
export function duration(field: string, options: KubeSchemaOptions = {}) {
  return Type.String({
    maxLength: 32,
    'x-kubernetes-validations': [{
      rule: `self.matches('${DURATION_PATTERN}') && duration(self) >= duration('1s')`,
      message: `${field} must be a duration of at least 1s in hours, minutes and seconds, e.g. 240s, 4m, 1h30m or 24h`,
    }],
    ...options,
  } as KubeSchemaOptions);
}

export function email(options: SchemaOptions = {}) {
  return Type.String({ format: 'email', maxLength: 254, ...options });
}

/** ISO 3166-1 alpha-2 country code, checked against the assigned codes (a CEL rule keeps the message short). */
export function countryCode(options: KubeSchemaOptions = {}) {
  return Type.String({
    minLength: 2,
    maxLength: 2,
    pattern: '^[A-Z]{2}$',
    'x-kubernetes-validations': [{
      rule: `self in [${ISO_COUNTRY_CODES.map((c) => `'${c}'`).join(', ')}]`,
      message: 'must be an ISO 3166-1 alpha-2 country code (e.g. IT, DE, FR)',
    }],
    ...options,
  });
}

export function stringMap(options: KubeSchemaOptions = {}): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string', maxLength: 253 }, ...options });
}

export function list<T extends TSchema>(items: T, options: KubeSchemaOptions & { minItems?: number; maxItems: number }) {
  return Type.Array(items, options);
}

/** metav1.LabelSelector; it must select something. */
export function labelSelector(options: KubeSchemaOptions = {}) {
  return Type.Object({
  matchLabels: Type.Optional(stringMap({ description: 'Labels a node must carry, all of them.' })),
  matchExpressions: Type.Optional(list(Type.Object({
    key: Type.String({ minLength: 1, maxLength: 317, description: 'Label key the requirement applies to.' }),
    operator: stringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, { description: 'How the key relates to the values.' }),
    values: Type.Optional(list(Type.String({ maxLength: 63 }), { maxItems: 64, description: 'Values for In and NotIn; empty for Exists and DoesNotExist.' })),
  }, {
    'x-kubernetes-validations': [{
      rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
      message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
    }],
  } as KubeSchemaOptions), { maxItems: 16, description: 'Label requirements a node must meet, all of them.' })),
}, {
  'x-kubernetes-map-type': 'atomic',
  'x-kubernetes-validations': [{
    rule: '(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)',
    message: 'must select something: give matchLabels or matchExpressions (an empty selector would match every node in every country)',
  }],
  ...options,
} as KubeSchemaOptions);
}

/** A reference to a Secret key in the same namespace. */
export const SecretKeyReference = Type.Object({
  name: dnsSubdomain({ description: 'Name of the Secret.' }),
  key: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$', description: 'Key within the Secret.' })),
});

/** metav1.Condition, as every status of this API carries them (kstatus: Ready, Reconciling, Stalled). */
export const Condition = Type.Object({
  type: Type.String({ maxLength: 316, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$', description: 'Type of condition in CamelCase.' }),
  status: stringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64', description: 'metadata.generation the condition was set from.' })),
  lastTransitionTime: Type.String({ format: 'date-time', description: 'Last time the condition changed status.' }),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', description: 'Programmatic identifier of the last transition, in CamelCase.' }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable details about the last transition.' }),
});

export const Conditions = list(Condition, {
  maxItems: 32,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  description: 'Latest observations of the object\'s state. Ready, Reconciling and Stalled follow kstatus, so `kubectl wait --for=condition=Ready`, Flux and Argo CD health checks work.',
});

export const ObservedGeneration = Type.Integer({ minimum: 0, format: 'int64', description: 'metadata.generation this status was computed from.' });
