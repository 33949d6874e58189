/**
 * Cross-object rules of the API: what a single object's schema cannot say because the answer depends
 * on other objects (its tenant, its datacenter, the tenant's other spaces). Pure functions, no I/O:
 * the admission webhook calls them with objects from the operator's caches to refuse a request, and
 * the reconcilers call the same ones to set `Stalled` with the same words when admission was bypassed
 * (webhook down or removed, objects restored from a backup).
 *
 * Every refusal names the field and the rule and says what would be allowed, in the form
 *   `<field>: <rule>: <what is wrong>`
 * e.g. `spec.datacenter: residency: datacenter de-fra1 is in DE, but tenant acme allows only IT`.
 */
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../api/types.ts';
import { isDeepStrictEqual } from 'node:util';
import { poolAddresses } from '../controllers/backupspace/address.ts';
import { describeNodeCountry, nodeName, selectNodes, selectorMatches, type NodeMeta } from '../controllers/datacenter/nodes.ts';
import { TENANT_LABEL, TENANT_NAMESPACE_PREFIX, tenantNamespaceName } from '../controllers/labels.ts';
import { formatQuantity, parseQuantity, QuantityError } from './quantity.ts';

/** Names of the rules, as they appear in messages (and, via ruleReason, in condition reasons). */
export const RULES = {
  /** A space or endpoint lives in the namespace of an existing tenant. */
  tenantNamespace: 'tenant-namespace',
  /** A space or endpoint holding data is not deleted before an export, unless the deletion is waived (deletion.ts). */
  exportBeforeDelete: 'export-before-delete',
  /** A space's datacenter exists. */
  datacenterExists: 'datacenter-exists',
  /** A space's datacenter is in a country / among the datacenters its tenant allows. */
  residency: 'residency',
  /** A space's key custody is not weaker than its tenant's. */
  custody: 'custody',
  /** A quantity field is a positive, readable quantity. */
  quantity: 'quantity',
  /** The sizes of a tenant's spaces fit its storage quota. */
  quota: 'quota',
  /** A tenant's storage quota is not lowered below what its spaces hold. */
  quotaChange: 'quota-change',
  /** Replicas fit the datacenter's storage access mode. */
  replicas: 'replicas',
  /** An endpoint's space is in the endpoint's own namespace. */
  sameNamespace: 'same-namespace',
  /** A residency edit keeps every existing space allowed. */
  residencyChange: 'residency-change',
  /** A datacenter hosting spaces is not deleted. */
  datacenterInUse: 'datacenter-in-use',
  /** An edit of a datacenter hosting spaces neither moves nor strands them. */
  datacenterChange: 'datacenter-change',
  /** A tenant's namespace is its own, not the operator's, a provider's or someone else's. */
  namespaceTaken: 'namespace-taken',
  /** A new space's datacenter can host it: it is not Stalled. */
  datacenterReady: 'datacenter-ready',
  /** A fixed address comes from the datacenter's address pool, which has one free. */
  addressPool: 'address-pool',
  /** A fixed address is no other space's. */
  addressTaken: 'address-taken',
} as const;

export type RuleName = (typeof RULES)[keyof typeof RULES];

export interface Allowed {
  allowed: true;
}

export interface Denied {
  allowed: false;
  /** Path of the offending field, e.g. `spec.datacenter`. */
  field: string;
  rule: RuleName;
  /** The full sentence for people: `<field>: <rule>: <detail>`. */
  message: string;
}

export type RuleResult = Allowed | Denied;

export const ALLOWED: Allowed = Object.freeze({ allowed: true });

export function deny(field: string, rule: RuleName, detail: string): Denied {
  return { allowed: false, field, rule, message: `${field}: ${rule}: ${detail}` };
}

/** The first refusal among several results, or ALLOWED. */
export function firstDenied(...results: RuleResult[]): RuleResult {
  return results.find((r) => !r.allowed) ?? ALLOWED;
}

/** The rule as a condition reason (`datacenter-in-use` → `DatacenterInUse`), for `Stalled`. */
export function ruleReason(rule: RuleName): string {
  return rule.split('-').map((word) => `${word.charAt(0).toUpperCase()}${word.slice(1)}`).join('');
}

/**
 * The tenant a namespace belongs to: only a namespace the Tenant controller made (named
 * `tenant-<name>` and labelled with that name) counts, so a look-alike namespace someone created by
 * hand never lends a tenant's rights to what is put in it.
 */
export function tenantOfNamespace(namespace: NamespaceMeta): string | undefined {
  const name = namespace.metadata.name ?? '';
  const label = namespace.metadata.labels?.[TENANT_LABEL];
  return label && name === tenantNamespaceName(label) ? label : undefined;
}

/** What the namespace rule needs to know of a namespace: its name and labels. */
export interface NamespaceMeta {
  metadata: { name?: string; labels?: Record<string, string> };
}

/**
 * A new tenant's namespace `tenant-<name>` must be its own: not the operator's (`backup-system` →
 * `tenant-backup-system`) or a provider admin namespace, and not an existing namespace the tenant
 * controller did not make for this tenant — otherwise the tenant's users would get RBAC and Secrets
 * beside the master key and the CA.
 */
export function checkTenantNamespace(tenant: Tenant, reserved: readonly string[], existing: NamespaceMeta | undefined): RuleResult {
  const namespace = tenantNamespaceName(tenant);
  const why = `tenant ${tenantName(tenant)} would live in namespace ${namespace}`;
  if (reserved.includes(namespace)) {
    return deny('metadata.name', RULES.namespaceTaken, `${why}, which is reserved for the provider (the operator's or an admin namespace); choose another tenant name`);
  }
  if (existing && tenantOfNamespace(existing) !== tenantName(tenant)) {
    return deny('metadata.name', RULES.namespaceTaken, `${why}, which already exists and does not belong to this tenant; choose another tenant name`);
  }
  return ALLOWED;
}

/** The tenant name a namespace's name implies (`tenant-acme` → `acme`), before checking its label. */
export function tenantNameFromNamespace(namespace: string): string | undefined {
  return namespace.startsWith(TENANT_NAMESPACE_PREFIX) && namespace.length > TENANT_NAMESPACE_PREFIX.length
    ? namespace.slice(TENANT_NAMESPACE_PREFIX.length)
    : undefined;
}

function tenantName(tenant: Tenant): string {
  return tenant.metadata.name ?? '';
}

function spaceName(space: BackupSpace): string {
  return `${space.metadata.namespace ?? ''}/${space.metadata.name ?? ''}`;
}

function listed(values: readonly string[], max = 5): string {
  const shown = values.slice(0, max).join(', ');
  return values.length > max ? `${shown} and ${values.length - max} more` : shown;
}

/**
 * Why a tenant's residency does not allow a datacenter, or undefined when it does. Both lists apply
 * when both are set: the datacenter must be one of the chosen ones and in an allowed country.
 */
export function residencyViolation(tenant: Tenant, datacenter: Datacenter): string | undefined {
  const { countries, datacenters } = tenant.spec.residency;
  const name = datacenter.metadata.name ?? '';
  const country = datacenter.spec.country;
  if (countries && !countries.includes(country)) {
    return `datacenter ${name} is in ${country}, but tenant ${tenantName(tenant)} allows only ${listed(countries)}`;
  }
  if (datacenters && !datacenters.includes(name)) {
    return `datacenter ${name} is not one of the datacenters tenant ${tenantName(tenant)} chose (${listed(datacenters)})`;
  }
  return undefined;
}

/**
 * The operator has built the space: its data key exists (status.keyId), so it may hold data. Rules
 * about what a space needs before anything is built (a datacenter that can host it, an address of the
 * pool, the customer's password) judge only a space that is not built yet: once it runs, a later
 * change elsewhere (a datacenter stalling, a pool edited) must not stop its upkeep, and what it
 * already has is checked where it is used (the address allocation, the key).
 */
export function isBuilt(space: BackupSpace): boolean {
  return Boolean(space.status?.keyId);
}

/**
 * A space may only live in its tenant's namespace, in an existing datacenter its tenant's residency
 * allows (S7); a space not built yet also needs that datacenter able to host it (not Stalled, and an
 * address pool that holds its fixed address). `tenant` is the tenant owning the space's namespace,
 * `datacenter` the one named by `spec.datacenter`; undefined when they do not exist.
 */
export function checkSpaceResidency(space: BackupSpace, tenant: Tenant | undefined, datacenter: Datacenter | undefined): RuleResult {
  if (!tenant) {
    const namespace = space.metadata.namespace ?? '';
    const implied = tenantNameFromNamespace(namespace);
    return deny('metadata.namespace', RULES.tenantNamespace, implied
      ? `namespace ${namespace} belongs to no tenant: tenant ${implied} does not exist (or does not own the namespace yet)`
      : `namespace ${namespace} is not a tenant namespace; a space lives in its tenant's namespace ${TENANT_NAMESPACE_PREFIX}<tenant>`);
  }
  if (!datacenter) {
    return deny('spec.datacenter', RULES.datacenterExists, `datacenter ${space.spec.datacenter} does not exist; spaces can only be created in a Datacenter of the catalog (kubectl get datacenters)`);
  }
  const violation = residencyViolation(tenant, datacenter);
  if (violation) return deny('spec.datacenter', RULES.residency, violation);
  if (isBuilt(space)) return ALLOWED;
  return firstDenied(checkDatacenterReady(space, datacenter), checkSpaceAddressPool(space, datacenter));
}

/**
 * A new space is not placed in a datacenter that says it cannot run anything (Stalled: no matching
 * or ready nodes, no StorageClass): it would get keys and a volume and never a gateway.
 */
export function checkDatacenterReady(space: BackupSpace, datacenter: Datacenter): RuleResult {
  const stalled = datacenter.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  if (!stalled) return ALLOWED;
  return deny('spec.datacenter', RULES.datacenterReady, `datacenter ${datacenter.metadata.name ?? space.spec.datacenter} cannot host new spaces: it is Stalled (${stalled.reason}: ${stalled.message}); choose another datacenter, or wait until the provider has put it right`);
}

/** The datacenter's pool as written, for messages (`198.51.100.8/30, 2001:db8::5`). */
function poolText(datacenter: Datacenter): string {
  return listed(datacenter.spec.addressPool?.addresses ?? [], 3);
}

/**
 * A fixed address (S8) comes from the datacenter's pool: the datacenter has one, and an address asked
 * for by `spec.fixedAddress.ip` is in it.
 */
export function checkSpaceAddressPool(space: BackupSpace, datacenter: Datacenter): RuleResult {
  const fixed = space.spec.fixedAddress;
  if (!fixed) return ALLOWED;
  const name = datacenter.metadata.name ?? space.spec.datacenter;
  const pool = poolAddresses(datacenter);
  if (pool.length === 0) {
    return deny('spec.fixedAddress', RULES.addressPool, `datacenter ${name} has no address pool, so it has no fixed address to give; remove fixedAddress, or choose a datacenter with an address pool`);
  }
  if (fixed.ip !== undefined && !pool.includes(fixed.ip)) {
    return deny('spec.fixedAddress.ip', RULES.addressPool, `${fixed.ip} is not in the address pool of datacenter ${name} (${poolText(datacenter)}); choose an address of the pool, or leave ip out to get the first free one`);
  }
  return ALLOWED;
}

/**
 * A fixed address is one space's: the address asked for is not held or asked for by another space of
 * the datacenter, and without one asked for, the pool has one left. `spacesOfDatacenter` are the
 * datacenter's spaces (of every tenant, so the message names none of them).
 */
export function checkSpaceAddressFree(space: BackupSpace, datacenter: Datacenter, spacesOfDatacenter: readonly BackupSpace[]): RuleResult {
  const fixed = space.spec.fixedAddress;
  if (!fixed) return ALLOWED;
  const name = datacenter.metadata.name ?? space.spec.datacenter;
  const self = spaceName(space);
  const taken = new Set(spacesOfDatacenter
    .filter((other) => spaceName(other) !== self && other.spec.datacenter === space.spec.datacenter)
    .flatMap((other) => [other.status?.address, other.spec.fixedAddress?.ip])
    .filter((address): address is string => Boolean(address)));
  if (fixed.ip !== undefined) {
    if (fixed.ip === space.status?.address) return ALLOWED;
    return taken.has(fixed.ip)
      ? deny('spec.fixedAddress.ip', RULES.addressTaken, `${fixed.ip} of datacenter ${name}'s pool is already used by another space; choose another address of the pool (${poolText(datacenter)}), or leave ip out to get the first free one`)
      : ALLOWED;
  }
  if (space.status?.address) return ALLOWED;
  const pool = poolAddresses(datacenter);
  if (pool.length > 0 && pool.every((address) => taken.has(address))) {
    return deny('spec.fixedAddress', RULES.addressPool, `every address of datacenter ${name}'s pool (${poolText(datacenter)}, ${pool.length} address(es)) is taken; the provider must add addresses to the pool, or the space goes without a fixed address`);
  }
  return ALLOWED;
}

/** The custody a space's key is wrapped under: its own choice, else its tenant's, else the provider's. */
export function effectiveCustody(space: BackupSpace, tenant: Tenant | undefined): 'provider' | 'customer' {
  return space.spec.encryption?.keyCustody ?? tenant?.spec.security?.keyCustody ?? 'provider';
}

/**
 * Customer custody on the tenant is a floor (S6): none of its spaces may hand the key to the provider.
 * A customer-custody space needs no password Secret: without one it waits until a tenant admin sets
 * the space password at the gateway (no provider credential involved, src/gateway/password-route.ts);
 * customerPasswordSecretRef remains for customers who prefer to hand the password over as a Secret.
 */
export function checkSpaceCustody(space: BackupSpace, tenant: Tenant): RuleResult {
  const floor = tenant.spec.security?.keyCustody ?? 'provider';
  const custody = effectiveCustody(space, tenant);
  if (floor === 'customer' && custody === 'provider') {
    return deny('spec.encryption.keyCustody', RULES.custody, `tenant ${tenantName(tenant)} requires customer key custody, so its spaces cannot use provider custody; remove keyCustody or set it to customer`);
  }
  return ALLOWED;
}

function sizeOf(space: BackupSpace): bigint {
  return parseQuantity(space.spec.size);
}

/**
 * Whether the storage a space's volume already holds (what its claim requests) covers its current
 * size: the space has that storage, so keeping it costs the tenant's quota nothing new. Read from the
 * volume claim, which the API server holds, not from status, which a restore loses.
 */
function holdsItsSize(held: string | undefined, requested: bigint): boolean {
  if (held === undefined) return false;
  try {
    return parseQuantity(held) >= requested;
  } catch {
    return false;
  }
}

/**
 * The sizes of all of a tenant's spaces add up to no more than its storage quota. `others` are the
 * tenant's spaces as stored; the space itself is skipped among them, so an update counts its new size
 * only once.
 *
 * `held` is the storage the space's volume claim requests, when it has one. A space that already holds
 * its size is allowed whatever the quota: a quota lowered below what the spaces hold (which admission
 * refuses, but a bypassed webhook lets through) refuses growth and new spaces, never the upkeep of what
 * exists (certificates, access configuration, gateways).
 */
export function checkSpaceFitsQuota(space: BackupSpace, others: readonly BackupSpace[], tenant: Tenant, held?: string): RuleResult {
  let requested: bigint;
  try {
    requested = sizeOf(space);
  } catch (error) {
    return deny('spec.size', RULES.quantity, error instanceof QuantityError ? error.message : String(error));
  }
  if (requested <= 0n) return deny('spec.size', RULES.quantity, `size must be greater than zero, not ${String(space.spec.size)}`);
  if (holdsItsSize(held, requested)) return ALLOWED;

  let limit: bigint;
  try {
    limit = parseQuantity(tenant.spec.quotas.storage);
  } catch (error) {
    return deny('spec.size', RULES.quota, `tenant ${tenantName(tenant)} has an unreadable storage quota: ${error instanceof Error ? error.message : String(error)}`);
  }
  let used = 0n;
  const self = spaceName(space);
  for (const other of others) {
    if (spaceName(other) === self) continue;
    try {
      used += sizeOf(other);
    } catch {
      // A stored space whose size cannot be read cannot be counted; the reconciler reports it.
    }
  }
  if (used + requested > limit) {
    return deny('spec.size', RULES.quota, `tenant ${tenantName(tenant)}'s storage quota is ${String(tenant.spec.quotas.storage)}: its other spaces use ${formatQuantity(used)} and this space asks for ${String(space.spec.size)}, ${formatQuantity(used + requested)} in all (${formatQuantity(limit - used > 0n ? limit - used : 0n)} left)`);
  }
  return ALLOWED;
}

/** A tenant's spaces over its storage quota: how much they hold in all, the quota, and which they are. */
export interface StorageOverQuota {
  used: bigint;
  limit: bigint;
  /** `namespace/name (size)`, by name. */
  spaces: string[];
}

/**
 * Whether a tenant's spaces ask for more than its storage quota, and by what. Undefined when they fit
 * (or the quota cannot be read: the schema refuses such a quota).
 */
export function storageOverQuota(tenant: Tenant, spaces: readonly BackupSpace[]): StorageOverQuota | undefined {
  let limit: bigint;
  try {
    limit = parseQuantity(tenant.spec.quotas.storage);
  } catch {
    return undefined;
  }
  let used = 0n;
  const counted: string[] = [];
  for (const space of [...spaces].sort((a, b) => spaceName(a).localeCompare(spaceName(b)))) {
    try {
      used += sizeOf(space);
      counted.push(`${spaceName(space)} (${String(space.spec.size)})`);
    } catch {
      // Unreadable sizes are refused by the schema and reported by the reconciler.
    }
  }
  return used > limit ? { used, limit, spaces: counted } : undefined;
}

/** `2 space(s) hold 25Gi: tenant-acme/a (10Gi), tenant-acme/b (15Gi)`, for messages. */
export function describeStorageUse(over: StorageOverQuota): string {
  return `${over.spaces.length} space(s) hold ${formatQuantity(over.used)}: ${listed(over.spaces)}`;
}

/**
 * A tenant's storage quota is not lowered below what its spaces hold: a space cannot shrink, so such a
 * quota could never be kept, and would only stop the spaces from growing. Raising a quota, even one
 * that is still too low, is always allowed: it goes the right way.
 */
export function checkTenantQuotaChange(tenant: Tenant, old: Tenant, spaces: readonly BackupSpace[]): RuleResult {
  let limit: bigint;
  try {
    limit = parseQuantity(tenant.spec.quotas.storage);
  } catch (error) {
    return deny('spec.quotas.storage', RULES.quantity, error instanceof Error ? error.message : String(error));
  }
  try {
    if (limit >= parseQuantity(old.spec.quotas.storage)) return ALLOWED;
  } catch {
    // The stored quota cannot be read: judge the new one on its own.
  }
  const over = storageOverQuota(tenant, spaces);
  if (!over) return ALLOWED;
  return deny('spec.quotas.storage', RULES.quotaChange, `tenant ${tenantName(tenant)}'s ${describeStorageUse(over)}, more than the new storage quota of ${String(tenant.spec.quotas.storage)}; a space cannot shrink, so lower the quota to no less than ${formatQuantity(over.used)}, or delete spaces first`);
}

export const DEFAULT_REPLICAS = 2;

/** With ReadWriteOnce storage only one pod can mount a space's volume, so the space has one replica. */
export function checkSpaceReplicas(space: BackupSpace, datacenter: Datacenter): RuleResult {
  const accessMode = datacenter.spec.storage.accessMode ?? 'ReadWriteMany';
  const replicas = space.spec.replicas ?? DEFAULT_REPLICAS;
  if (accessMode === 'ReadWriteOnce' && replicas !== 1) {
    return deny('spec.replicas', RULES.replicas, `datacenter ${datacenter.metadata.name ?? ''} has ReadWriteOnce storage, which one replica at a time can mount; set replicas to 1 (it is ${replicas})`);
  }
  return ALLOWED;
}

/** An endpoint writes only to a space of its own tenant, i.e. of its own namespace (S11). */
export function checkEndpointSpaceRef(endpoint: Endpoint): RuleResult {
  const target = endpoint.spec.spaceRef.namespace;
  const own = endpoint.metadata.namespace ?? '';
  if (target !== undefined && target !== own) {
    return deny('spec.spaceRef.namespace', RULES.sameNamespace, `an endpoint can only use a space of its own namespace ${own}, not one in ${target}; remove spaceRef.namespace or set it to ${own}`);
  }
  return ALLOWED;
}

/**
 * A tenant's residency may change only if every existing space stays allowed: data already stored in
 * a datacenter does not move because a list was edited. `spaces` are the tenant's spaces; a space
 * whose datacenter no longer exists is left to the reconciler.
 */
export function checkTenantResidencyChange(tenant: Tenant, spaces: readonly BackupSpace[], datacenters: readonly Datacenter[]): RuleResult {
  const byName = new Map(datacenters.map((d) => [d.metadata.name ?? '', d]));
  const stranded: string[] = [];
  let firstReason = '';
  for (const space of spaces) {
    const datacenter = byName.get(space.spec.datacenter);
    if (!datacenter) continue;
    const violation = residencyViolation(tenant, datacenter);
    if (violation) {
      stranded.push(`${spaceName(space)} (${datacenter.metadata.name ?? ''}, ${datacenter.spec.country})`);
      firstReason ||= violation;
    }
  }
  if (stranded.length === 0) return ALLOWED;
  return deny('spec.residency', RULES.residencyChange, `the new residency would strand ${stranded.length} existing space(s): ${listed(stranded)}; ${firstReason}. Move or delete those spaces first`);
}

/** A datacenter still hosting spaces stays: deleting it would orphan their data and pinning. */
export function checkDatacenterDeletion(datacenter: Datacenter, spaces: readonly BackupSpace[]): RuleResult {
  const name = datacenter.metadata.name ?? '';
  const hosted = spaces.filter((s) => s.spec.datacenter === name).map(spaceName).sort();
  if (hosted.length === 0) return ALLOWED;
  return deny('metadata.name', RULES.datacenterInUse, `datacenter ${name} still hosts ${hosted.length} space(s): ${listed(hosted)}; delete or move them first`);
}

/**
 * An edit of a datacenter that hosts spaces must leave their data where it is (S7): the country
 * stays; the selector still matches every node of its country it matched, and matches no node of
 * another country or of another datacenter; the storage the volumes were made from stays; and every
 * fixed address a space holds or asked for stays in the pool, on the same load-balancer class. A
 * datacenter hosting nothing may be edited freely (its status then says what is wrong). `nodes` are
 * the cluster's nodes, `datacenters` every datacenter (the edited one among them is skipped).
 */
export function checkDatacenterUpdate(datacenter: Datacenter, old: Datacenter, spaces: readonly BackupSpace[], nodes: readonly NodeMeta[], datacenters: readonly Datacenter[]): RuleResult {
  const name = datacenter.metadata.name ?? '';
  const hosted = spaces.filter((s) => s.spec.datacenter === name).sort((a, b) => spaceName(a).localeCompare(spaceName(b)));
  if (hosted.length === 0) return ALLOWED;
  const hosts = `datacenter ${name} hosts ${hosted.length} space(s): ${listed(hosted.map(spaceName))}`;
  const refuse = (field: string, detail: string) => deny(field, RULES.datacenterChange, `${hosts}; ${detail}`);

  if (datacenter.spec.country !== old.spec.country) {
    return refuse('spec.country', `changing its country from ${old.spec.country} to ${datacenter.spec.country} would put their data, which stays where it is, under another country; create a datacenter in ${datacenter.spec.country} and new spaces there`);
  }
  const selectorChange = checkSelectorChange(datacenter, old, nodes, datacenters);
  if (selectorChange) return refuse('spec.nodeSelector', selectorChange);
  const storageChange = checkStorageChange(datacenter, old);
  if (storageChange) return refuse(storageChange.field, storageChange.detail);
  const poolChange = checkPoolChange(datacenter, old, hosted);
  if (poolChange) return refuse(poolChange.field, poolChange.detail);
  return ALLOWED;
}

function checkSelectorChange(datacenter: Datacenter, old: Datacenter, nodes: readonly NodeMeta[], datacenters: readonly Datacenter[]): string | undefined {
  if (isDeepStrictEqual(datacenter.spec.nodeSelector, old.spec.nodeSelector)) return undefined;
  const country = datacenter.spec.country;
  const after = selectNodes(datacenter, nodes);
  if (after.foreign.length > 0) {
    return `the new selector matches ${after.foreign.length} node(s) outside ${country}: ${listed(after.foreign.map(describeNodeCountry).sort())}, where their data may not go`;
  }
  const matched = new Set(after.matching.map(nodeName));
  const dropped = selectNodes(old, nodes).own.filter((n) => !matched.has(nodeName(n)));
  if (dropped.length > 0) {
    return `the new selector no longer matches ${dropped.length} of its node(s): ${listed(dropped.map(nodeName).sort())}, where their gateways run and their volumes are reachable`;
  }
  const wasMatched = new Set(selectNodes(old, nodes).matching.map(nodeName));
  const others = datacenters.filter((d) => d.metadata.name !== datacenter.metadata.name);
  const taken = after.matching
    .filter((n) => !wasMatched.has(nodeName(n)))
    .flatMap((n) => others.filter((d) => selectorMatches(d.spec.nodeSelector, n)).map((d) => `${nodeName(n)} (${d.metadata.name ?? ''})`))
    .sort();
  if (taken.length > 0) {
    return `the new selector matches node(s) of other datacenters: ${listed(taken)}, which do not reach this datacenter's volumes`;
  }
  return undefined;
}

function checkStorageChange(datacenter: Datacenter, old: Datacenter): { field: string; detail: string } | undefined {
  const effective = (d: Datacenter) => ({
    storageClassName: d.spec.storage.storageClassName,
    accessMode: d.spec.storage.accessMode ?? 'ReadWriteMany',
    volumeEncryption: d.spec.storage.volumeEncryption ?? 'None',
  });
  const [now, before] = [effective(datacenter), effective(old)];
  for (const key of ['storageClassName', 'accessMode', 'volumeEncryption'] as const) {
    if (now[key] !== before[key]) {
      return { field: `spec.storage.${key}`, detail: `their volumes were made with ${key} ${before[key]} and cannot change to ${now[key]}; keep ${before[key]}, or create a datacenter with the new storage` };
    }
  }
  return undefined;
}

function checkPoolChange(datacenter: Datacenter, old: Datacenter, hosted: readonly BackupSpace[]): { field: string; detail: string } | undefined {
  const held = hosted.flatMap((s) => [...new Set([s.status?.address, s.spec.fixedAddress?.ip].filter((a): a is string => !!a))].map((address) => ({ space: spaceName(s), address })));
  if (held.length === 0) return undefined;
  const pool = new Set(poolAddresses(datacenter));
  const lost = held.filter((h) => !pool.has(h.address)).map((h) => `${h.address} (${h.space})`);
  if (lost.length > 0) {
    const field = datacenter.spec.addressPool ? 'spec.addressPool.addresses' : 'spec.addressPool';
    return { field, detail: `the new pool no longer holds ${lost.length} address(es) its spaces hold or asked for: ${listed(lost)}; keep them in the pool` };
  }
  const [now, before] = [datacenter.spec.addressPool?.loadBalancerClass ?? '', old.spec.addressPool?.loadBalancerClass ?? ''];
  if (now !== before) {
    return { field: 'spec.addressPool.loadBalancerClass', detail: `the Services carrying their fixed addresses were made with loadBalancerClass ${before || '(cluster default)'}, which a Service cannot change; keep it` };
  }
  return undefined;
}
