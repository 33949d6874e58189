/**
 * What each webhook path checks, as pure functions of the AdmissionRequest and the objects the caches
 * hold. The rules themselves are in src/admission/rules.ts; this decides which rules an operation
 * needs:
 * - only a change to spec is judged, so finalizers, labels and annotations can always be written
 *   (a controller removing its finalizer must never be blocked by a rule), and objects being deleted
 *   are never judged;
 * - on update, only the rules the changed fields touch are checked (validation ratcheting): a tenant
 *   over its quota (lowered while admission was bypassed) can still edit a space's replicas, but
 *   not grow it, and may raise its quota step by step.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../api/types.ts';
import { GROUP } from '../api/resource.ts';
import {
  ALLOWED,
  checkDatacenterDeletion,
  checkDatacenterUpdate,
  checkEndpointSpaceRef,
  checkSpaceAddressFree,
  checkSpaceAddressPool,
  checkSpaceCustody,
  checkSpaceFitsQuota,
  checkSpaceReplicas,
  checkSpaceResidency,
  checkTenantNamespace,
  checkTenantQuotaChange,
  checkTenantResidencyChange,
  firstDenied,
  type NamespaceMeta,
  type RuleResult,
} from '../admission/rules.ts';
import { parseQuantity } from '../admission/quantity.ts';
import { checkEndpointDeletion, checkSpaceDeletion } from '../admission/deletion.ts';
import type { NodeMeta } from '../controllers/datacenter/nodes.ts';
import { tenantNamespaceName } from '../controllers/labels.ts';
import { errorVerdict, verdictOf, type AdmissionRequest, type Operation, type Verdict } from './review.ts';

/** Read access to the objects the rules compare against (the operator's informer caches). */
export interface AdmissionLookups {
  /** True once every cache has listed its objects: before that, absence proves nothing. */
  synced(): boolean;
  tenant(name: string): Tenant | undefined;
  /** The tenant owning a namespace (see tenantOfNamespace), if any. */
  tenantOfNamespace(namespace: string): string | undefined;
  datacenter(name: string): Datacenter | undefined;
  datacenters(): Datacenter[];
  spacesIn(namespace: string): BackupSpace[];
  spaces(): BackupSpace[];
  /** Any namespace of the cluster by name, labelled or not. */
  namespace(name: string): NamespaceMeta | undefined;
  /** Namespaces no tenant may live in: the operator's own and the provider's admin namespaces. */
  reservedNamespaces(): readonly string[];
  /** The cluster's nodes (names and labels), for what a datacenter's selector matches. */
  nodes(): readonly NodeMeta[];
}

export type Validator = (request: AdmissionRequest, lookups: AdmissionLookups) => RuleResult;

interface ObjectShape {
  metadata: { name?: string; namespace?: string; deletionTimestamp?: unknown };
  spec: Record<string, unknown>;
}

class MalformedRequest extends Error {}

function shaped<T>(value: unknown, what: string): T {
  const candidate = value as Partial<ObjectShape> | undefined;
  if (typeof candidate?.metadata !== 'object' || candidate.metadata === null || typeof candidate.spec !== 'object' || candidate.spec === null) {
    throw new MalformedRequest(`the request's ${what} has no metadata or spec`);
  }
  return value as T;
}

/** The new object of a CREATE/UPDATE, with the request's namespace filled in when the body lacks it. */
function newObject<T extends ObjectShape>(request: AdmissionRequest): T {
  const object = shaped<T>(request.object, 'object');
  if (request.namespace && !object.metadata.namespace) return { ...object, metadata: { ...object.metadata, namespace: request.namespace } };
  return object;
}

function oldObject<T extends ObjectShape>(request: AdmissionRequest): T | undefined {
  return request.operation === 'UPDATE' && request.oldObject !== undefined ? shaped<T>(request.oldObject, 'oldObject') : undefined;
}

/** True when nothing the rules judge changed: metadata-only updates, or an object on its way out. */
function nothingToJudge<T extends ObjectShape>(object: T, old: T | undefined): boolean {
  return Boolean(object.metadata.deletionTimestamp) || (old !== undefined && isDeepStrictEqual(object.spec, old.spec));
}

function grew(size: BackupSpace['spec']['size'], before: BackupSpace['spec']['size']): boolean {
  try {
    return parseQuantity(size) > parseQuantity(before);
  } catch {
    return true;
  }
}

/** The stored object a DELETE would remove (the API server sends it as oldObject), or undefined. */
function deletedObject<T extends ObjectShape>(request: AdmissionRequest): T | undefined {
  if (request.operation !== 'DELETE' || request.oldObject === undefined) return undefined;
  const object = shaped<T>(request.oldObject, 'oldObject');
  return request.namespace && !object.metadata.namespace ? { ...object, metadata: { ...object.metadata, namespace: request.namespace } } : object;
}

function tenantOf(lookups: AdmissionLookups, namespace: string | undefined): Tenant | undefined {
  const name = namespace ? lookups.tenantOfNamespace(namespace) : undefined;
  return name === undefined ? undefined : lookups.tenant(name);
}

/** A space or endpoint that holds data is not deleted without an export or an explicit waiver (deletion.ts). */
export const validateBackupSpaceDeletion: Validator = (request, lookups) => {
  const space = deletedObject<BackupSpace & ObjectShape>(request);
  return space ? checkSpaceDeletion(space, tenantOf(lookups, space.metadata.namespace)) : ALLOWED;
};

export const validateEndpointDeletion: Validator = (request, lookups) => {
  const endpoint = deletedObject<Endpoint & ObjectShape>(request);
  return endpoint ? checkEndpointDeletion(endpoint, tenantOf(lookups, endpoint.metadata.namespace)) : ALLOWED;
};

export const validateBackupSpace: Validator = (request, lookups) => {
  if (request.operation === 'DELETE') return validateBackupSpaceDeletion(request, lookups);
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return ALLOWED;
  const space = newObject<BackupSpace & ObjectShape>(request);
  const old = oldObject<BackupSpace & ObjectShape>(request);
  if (nothingToJudge(space, old)) return ALLOWED;
  const namespace = space.metadata.namespace ?? '';
  const tenantName = lookups.tenantOfNamespace(namespace);
  const tenant = tenantName === undefined ? undefined : lookups.tenant(tenantName);
  const datacenter = lookups.datacenter(space.spec.datacenter);
  const spacesOfDatacenter = () => lookups.spaces().filter((s) => s.spec.datacenter === space.spec.datacenter);
  if (!old) {
    // A new space has built nothing, whatever a status in the request says (the API server drops it
    // on create anyway): residency, and what the datacenter must offer it (not Stalled, an address).
    const fresh: BackupSpace = { ...space, status: {} };
    const residency = checkSpaceResidency(fresh, tenant, datacenter);
    if (!residency.allowed || !tenant || !datacenter) return residency;
    return firstDenied(
      checkSpaceCustody(fresh, tenant),
      checkSpaceReplicas(fresh, datacenter),
      checkSpaceFitsQuota(fresh, lookups.spacesIn(namespace), tenant),
      checkSpaceAddressFree(fresh, datacenter, spacesOfDatacenter()),
    );
  }
  // datacenter and keyCustody are immutable (CEL); what can change and break a rule is size,
  // replicas, the password reference and the fixed address.
  const addressChanged = !isDeepStrictEqual(space.spec.fixedAddress, old.spec.fixedAddress);
  return firstDenied(
    datacenter && space.spec.replicas !== old.spec.replicas ? checkSpaceReplicas(space, datacenter) : ALLOWED,
    tenant && grew(space.spec.size, old.spec.size) ? checkSpaceFitsQuota(space, lookups.spacesIn(namespace), tenant) : ALLOWED,
    tenant && !isDeepStrictEqual(space.spec.encryption, old.spec.encryption) ? checkSpaceCustody(space, tenant) : ALLOWED,
    datacenter && addressChanged ? checkSpaceAddressPool(space, datacenter) : ALLOWED,
    datacenter && addressChanged ? checkSpaceAddressFree(space, datacenter, spacesOfDatacenter()) : ALLOWED,
  );
};

export const validateEndpoint: Validator = (request, lookups) => {
  if (request.operation === 'DELETE') return validateEndpointDeletion(request, lookups);
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return ALLOWED;
  const endpoint = newObject<Endpoint & ObjectShape>(request);
  if (nothingToJudge(endpoint, oldObject<Endpoint & ObjectShape>(request))) return ALLOWED;
  return checkEndpointSpaceRef(endpoint);
};

export const validateTenant: Validator = (request, lookups) => {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return ALLOWED;
  const tenant = newObject<Tenant & ObjectShape>(request);
  const old = oldObject<Tenant & ObjectShape>(request);
  if (tenant.metadata.deletionTimestamp) return ALLOWED;
  const namespace = tenantNamespaceName(tenant);
  // The name, hence the namespace, never changes: judged once, on create.
  const ownNamespace = old ? ALLOWED : checkTenantNamespace(tenant, lookups.reservedNamespaces(), lookups.namespace(namespace));
  const residencyChanged = !old || !isDeepStrictEqual(tenant.spec.residency, old.spec.residency);
  const storageChanged = old !== undefined && String(tenant.spec.quotas.storage) !== String(old.spec.quotas.storage);
  return firstDenied(
    ownNamespace,
    residencyChanged ? checkTenantResidencyChange(tenant, lookups.spacesIn(namespace), lookups.datacenters()) : ALLOWED,
    old && storageChanged ? checkTenantQuotaChange(tenant, old, lookups.spacesIn(namespace)) : ALLOWED,
  );
};

export const validateDatacenter: Validator = (request, lookups) => {
  if (request.operation === 'UPDATE') {
    const datacenter = newObject<Datacenter & ObjectShape>(request);
    // The API server sends the stored object as oldObject; without it, the cached one stands in.
    const old = oldObject<Datacenter & ObjectShape>(request) ?? lookups.datacenter(datacenter.metadata.name ?? '');
    if (!old || nothingToJudge(datacenter, old)) return ALLOWED;
    // Like a deletion, an edit is judged against the spaces the API server holds (consistentSpaces).
    return checkDatacenterUpdate(datacenter, old, lookups.spaces(), lookups.nodes(), lookups.datacenters());
  }
  if (request.operation !== 'DELETE') return ALLOWED;
  // The API server sends the stored object as oldObject on DELETE; the name is enough if it does not.
  const stored = request.oldObject !== undefined ? shaped<Datacenter>(request.oldObject, 'oldObject') : undefined;
  const datacenter = stored ?? ({ metadata: { name: request.name ?? '' } } as Datacenter);
  return checkDatacenterDeletion(datacenter, lookups.spaces());
};

export interface WebhookRoute {
  /** Plural of the tenantbackup.io resource this path validates. */
  resource: string;
  /** What the API server sends it (the rules of its webhook in the configuration). */
  operations: Operation[];
  scope: 'Namespaced' | 'Cluster';
  validate: Validator;
  /** Judging needs the caches: always, or only for these operations (an endpoint's create does not). */
  needsCaches: boolean | readonly Operation[];
  /**
   * Judge with the spaces read from the API server, not the caches: a cache can be milliseconds
   * behind a space just created, and a deletion let through by that lag cannot be undone. Only for
   * rare requests, where a list per request costs nothing that matters.
   */
  consistentSpaces?: boolean;
}

/** What is validated: each entry is one webhook of the configuration and one path of the server. */
export const WEBHOOK_ROUTES: readonly WebhookRoute[] = [
  { resource: 'backupspaces', operations: ['CREATE', 'UPDATE', 'DELETE'], scope: 'Namespaced', validate: validateBackupSpace, needsCaches: true },
  // DELETE judges by the tenant's termination, from the caches.
  { resource: 'endpoints', operations: ['CREATE', 'UPDATE', 'DELETE'], scope: 'Namespaced', validate: validateEndpoint, needsCaches: ['DELETE'] },
  { resource: 'tenants', operations: ['CREATE', 'UPDATE'], scope: 'Cluster', validate: validateTenant, needsCaches: true },
  // UPDATE and DELETE judge the spaces the API server holds, and UPDATE the cached nodes.
  { resource: 'datacenters', operations: ['UPDATE', 'DELETE'], scope: 'Cluster', validate: validateDatacenter, needsCaches: true, consistentSpaces: true },
];

export function webhookPath(resource: string): string {
  return `/validate/${resource}`;
}

/** The routes by the path the server serves them on. */
export const ROUTES: Readonly<Record<string, WebhookRoute>> = Object.fromEntries(WEBHOOK_ROUTES.map((route) => [webhookPath(route.resource), route]));

/**
 * The whole decision for one request on one path: the right resource, a sub-resource left alone,
 * caches synced, then the rules. Never throws: a surprise becomes a refusal that says what happened.
 */
export function admit(route: WebhookRoute, request: AdmissionRequest, lookups: AdmissionLookups): Verdict {
  if (request.resource.group !== GROUP || request.resource.resource !== route.resource) {
    return errorVerdict(400, `this webhook path validates ${route.resource}.${GROUP}, not ${request.resource.resource}.${request.resource.group || 'core'}; check the ValidatingWebhookConfiguration`);
  }
  if (request.subResource) return { allowed: true };
  const needsCaches = typeof route.needsCaches === 'boolean' ? route.needsCaches : route.needsCaches.includes(request.operation);
  if (needsCaches && !lookups.synced()) {
    return errorVerdict(503, 'the tenant-backup-operator webhook is starting and has not read the cluster yet; retry in a few seconds');
  }
  try {
    return verdictOf(route.validate(request, lookups));
  } catch (error) {
    if (error instanceof MalformedRequest) return errorVerdict(400, error.message);
    return errorVerdict(500, `the tenant-backup-operator webhook failed to judge the request: ${error instanceof Error ? error.message : String(error)}`);
  }
}
