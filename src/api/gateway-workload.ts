/**
 * How the gateway pods of spaces are sized and placed: the schema of the operator's defaults
 * (`--gateway-workload`, chart value `gateway`) and of a Datacenter's override (`spec.gateway`), one
 * schema for both so the flag is judged by the same rules the API server applies to the Datacenter.
 */
import { Type, type Static } from '@sinclair/typebox';
import { dnsSubdomain, list, quantity, stringEnum, type KubeSchemaOptions } from './schema.ts';

/**
 * The most one container may have in a tenant namespace: the namespace's LimitRange max
 * (tenant/desired.ts), which would refuse a larger gateway pod at creation, out of sight.
 */
export const CONTAINER_MAX = { cpu: '4', memory: '4Gi' } as const;

/** Labels the operator selects and manages the gateway pods by: never taken from settings. */
export const RESERVED_POD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/managed-by'] as const;
/** Label and annotation keys under the API's own prefix are the operator's. */
export const RESERVED_KEY_PREFIX = 'tenantbackup.io/';

const RESOURCE_NAMES = ['cpu', 'memory', 'ephemeral-storage'] as const;

const resourceList = (what: string, rules: KubeSchemaOptions['x-kubernetes-validations'] = []) => Type.Unsafe<Record<string, string | number>>({
  type: 'object',
  maxProperties: RESOURCE_NAMES.length,
  additionalProperties: quantity({ description: 'A quantity, e.g. 100m or 1 for cpu, 128Mi for memory.' }),
  description: `${what}, by resource: cpu, memory, ephemeral-storage.`,
  'x-kubernetes-validations': [
    { rule: `self.all(k, k in [${RESOURCE_NAMES.map((n) => `'${n}'`).join(', ')}])`, message: `resources may be ${RESOURCE_NAMES.join(', ')}` },
    ...rules,
  ],
});

const atMost = (name: keyof typeof CONTAINER_MAX) =>
  `(!('${name}' in self) || quantity(string(self['${name}'])).compareTo(quantity('${CONTAINER_MAX[name]}')) <= 0)`;

export const GatewayResources = Type.Object({
  requests: Type.Optional(resourceList('What the scheduler reserves for the gateway container')),
  limits: Type.Optional(resourceList('The most the gateway container may use', [
    { rule: `${atMost('cpu')} && ${atMost('memory')}`, message: `must be at most cpu ${CONTAINER_MAX.cpu} and memory ${CONTAINER_MAX.memory}, the tenant namespaces' LimitRange maximum` },
  ])),
}, {
  description: 'Requests and limits of the gateway container. Taken as a whole: settings that give resources replace the lower layer\'s requests and limits together.',
  'x-kubernetes-validations': [{
    rule: "!has(self.requests) || self.requests.all(k, has(self.limits) && k in self.limits && quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)",
    message: 'every request needs a limit of the same resource, at least as large (the tenant namespace\'s LimitRange would otherwise impose its default limit, 1 cpu and 512Mi)',
    fieldPath: '.requests',
  }],
} as KubeSchemaOptions);

const Toleration = Type.Object({
  key: Type.Optional(Type.String({ maxLength: 317, description: 'Taint key the toleration applies to; empty with operator Exists: every taint.' })),
  operator: Type.Optional(stringEnum(['Exists', 'Equal'] as const, { description: 'Exists (any value) or Equal (the value below); default Equal.' })),
  value: Type.Optional(Type.String({ maxLength: 63, description: 'Taint value, with operator Equal.' })),
  effect: Type.Optional(stringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, { description: 'Taint effect to tolerate; empty: every effect.' })),
  tolerationSeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'With effect NoExecute: how long the pod stays bound after the taint appears.' })),
}, {
  description: 'A toleration of the gateway pods, as in a pod spec.',
  'x-kubernetes-validations': [
    { rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''", message: 'a toleration with operator Exists takes no value', fieldPath: '.value' },
    { rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')", message: 'tolerationSeconds only applies to effect NoExecute', fieldPath: '.tolerationSeconds' },
  ],
} as KubeSchemaOptions);

const TopologySpreadConstraint = Type.Object({
  maxSkew: Type.Integer({ minimum: 1, description: 'How unevenly the space\'s gateway pods may be spread over the domains.' }),
  topologyKey: Type.String({ minLength: 1, maxLength: 317, description: 'Node label whose values are the domains, e.g. topology.kubernetes.io/zone.' }),
  whenUnsatisfiable: stringEnum(['DoNotSchedule', 'ScheduleAnyway'] as const, { description: 'DoNotSchedule (a hard rule) or ScheduleAnyway (a preference).' }),
  minDomains: Type.Optional(Type.Integer({ minimum: 1, description: 'Fewest eligible domains (with DoNotSchedule).' })),
  nodeAffinityPolicy: Type.Optional(stringEnum(['Honor', 'Ignore'] as const, { description: 'Whether the pods\' node affinity (the datacenter\'s nodes) bounds the domains; default Honor.' })),
  nodeTaintsPolicy: Type.Optional(stringEnum(['Honor', 'Ignore'] as const, { description: 'Whether nodes whose taints the pods do not tolerate count; default Ignore.' })),
}, {
  description: 'A topology spread constraint of the gateway pods. It always counts the pods of the one space (the operator sets its labelSelector), so a space\'s replicas spread over, e.g., zones of its datacenter.',
  'x-kubernetes-validations': [{ rule: "!has(self.minDomains) || self.whenUnsatisfiable == 'DoNotSchedule'", message: 'minDomains needs whenUnsatisfiable DoNotSchedule', fieldPath: '.minDomains' }],
} as KubeSchemaOptions);

const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';
const notReserved = (extra: readonly string[]) =>
  `self.all(k, !k.startsWith('${RESERVED_KEY_PREFIX}')${extra.length ? ` && !(k in [${extra.map((l) => `'${l}'`).join(', ')}])` : ''})`;

export const GatewayWorkload = Type.Object({
  resources: Type.Optional(GatewayResources),
  priorityClassName: Type.Optional(dnsSubdomain({
    description: 'PriorityClass of the gateway pods (it must exist). The system- classes are kube-system\'s only.',
    'x-kubernetes-validations': [{ rule: "!self.startsWith('system-')", message: 'the system- priority classes are reserved to kube-system; a tenant namespace\'s pods cannot use them' }],
  } as KubeSchemaOptions)),
  tolerations: Type.Optional(list(Toleration, { maxItems: 16, description: 'Tolerations of the gateway pods, e.g. for nodes tainted for storage. They widen nothing: the pods stay on the datacenter\'s nodes. A list replaces the lower layer\'s; [] clears it.' })),
  podLabels: Type.Optional(Type.Unsafe<Record<string, string>>({
    type: 'object',
    maxProperties: 16,
    additionalProperties: { type: 'string', maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' },
    description: `Extra labels of the gateway pods, merged over the lower layer's. Not the operator's own: ${RESERVED_POD_LABELS.join(', ')} and ${RESERVED_KEY_PREFIX}*.`,
    'x-kubernetes-validations': [
      { rule: notReserved(RESERVED_POD_LABELS), message: `must not set the labels the operator selects and manages its pods by (${RESERVED_POD_LABELS.join(', ')}, ${RESERVED_KEY_PREFIX}*)` },
      { rule: `self.all(k, size(k) <= 317 && k.matches('${LABEL_KEY}'))`, message: 'keys must be label keys: an optional DNS subdomain prefix and /, then a name of letters, digits, -, _ and .' },
    ],
  })),
  podAnnotations: Type.Optional(Type.Unsafe<Record<string, string>>({
    type: 'object',
    maxProperties: 16,
    additionalProperties: { type: 'string', maxLength: 4096 },
    description: `Extra annotations of the gateway pods, merged over the lower layer's. Not under ${RESERVED_KEY_PREFIX}, which is the operator's.`,
    'x-kubernetes-validations': [{ rule: notReserved([]), message: `must not set annotations under ${RESERVED_KEY_PREFIX}, which are the operator's` }],
  })),
  topologySpreadConstraints: Type.Optional(list(TopologySpreadConstraint, { maxItems: 8, description: 'How a space\'s gateway pods spread beyond one per node (which always holds). A list replaces the lower layer\'s; [] clears it.' })),
}, { description: 'Gateway pod settings: sizing, priority, tolerations, extra labels and annotations, topology spread.' });
export type GatewayWorkload = Static<typeof GatewayWorkload>;
