/** Creating and reading this API's objects in integration tests. */
import type { V1Secret } from '@kubernetes/client-node';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../../src/api/types.ts';
import { CONTENT_TYPE, type KubeClient } from '../../src/runtime/kube/client.ts';
import { isApiError } from '../../src/runtime/kube/errors.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { tenantNamespaceName } from '../../src/controllers/labels.ts';
import { SIMULATED_DATACENTERS } from '../harness/topology.ts';
import { eventually } from './kube.ts';
import { datacenter as datacenterObject, endpoint as endpointObject, space as spaceObject, tenant as tenantObject } from './objects.ts';

type Spec<T extends { spec: unknown }> = Partial<T['spec']>;

interface Named { metadata: { name?: string; namespace?: string } }

/** Strips what the server assigns (uid, generation) from a builder's object. */
export function forCreate<T extends Named>(object: T): T {
  const { name, namespace } = object.metadata;
  return { ...object, metadata: { name, ...(namespace ? { namespace } : {}) } };
}

/** Creates the object; with dryRun, the API server admits it (webhooks included) and stores nothing. */
export async function createObject<T>(client: KubeClient, ref: ResourceRef, object: Named, options: { dryRun?: boolean } = {}): Promise<T> {
  return client.request<T>({ method: 'POST', path: collectionPath(ref, object.metadata.namespace), body: forCreate(object), query: options.dryRun ? { dryRun: 'All' } : undefined });
}

/** Creates the object unless one of that name exists (shared fixtures, like the datacenters). */
export async function createIfAbsent(client: KubeClient, ref: ResourceRef, object: Named): Promise<void> {
  await createObject(client, ref, object).catch((error: unknown) => { if (!isApiError(error, 409)) throw error; });
}

export async function readObject<T>(client: KubeClient, ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
  try {
    return await client.request<T>({ method: 'GET', path: objectPath(ref, name, namespace) });
  } catch (error) {
    if (isApiError(error, 404)) return undefined;
    throw error;
  }
}

export async function mergePatch(client: KubeClient, ref: ResourceRef, name: string, namespace: string | undefined, body: unknown): Promise<void> {
  await client.request({ method: 'PATCH', path: objectPath(ref, name, namespace), body, contentType: CONTENT_TYPE.merge });
}

/** The simulated datacenters as Datacenter objects (created if missing), selecting nodes by zone. */
export async function ensureDatacenters(client: KubeClient): Promise<void> {
  for (const dc of SIMULATED_DATACENTERS) await createIfAbsent(client, API.Datacenter, datacenterObject(dc.zone, dc.country));
}

export async function createTenant(client: KubeClient, name: string, spec: Spec<Tenant> = {}): Promise<void> {
  await createObject(client, API.Tenant, tenantObject(name, spec));
}

/** Creates a tenant and waits until it is Ready; returns its namespace. */
export async function createReadyTenant(client: KubeClient, name: string, spec: Spec<Tenant> = {}): Promise<{ name: string; namespace: string }> {
  await createTenant(client, name, spec);
  await waitForCondition<Tenant>(client, API.Tenant, name, undefined, 'Ready', 'True');
  return { name, namespace: tenantNamespaceName(name) };
}

export async function createSpace(client: KubeClient, name: string, namespace: string, spec: Spec<BackupSpace> = {}): Promise<void> {
  await createObject(client, API.BackupSpace, spaceObject(name, namespace, spec));
}

export async function createEndpoint(client: KubeClient, name: string, namespace: string, space: string, spec: Spec<Endpoint> = {}): Promise<void> {
  await createObject(client, API.Endpoint, endpointObject(name, namespace, space, spec));
}

export function condition(object: { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } } | undefined, type: string) {
  return object?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until `type` has `status` (and, if given, `reason`), returning the object. */
export async function waitForCondition<T extends { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }>(
  client: KubeClient, ref: ResourceRef, name: string, namespace: string | undefined, type: string, status: 'True' | 'False', reason?: string, timeoutMs = 60_000,
): Promise<T> {
  return eventually(`${ref.kind} ${name}: ${type}=${status}${reason ? ` (${reason})` : ''}`, async () => {
    const object = await readObject<T>(client, ref, name, namespace);
    const found = condition(object, type);
    return found?.status === status && (!reason || found.reason === reason) ? object : undefined;
  }, { timeoutMs });
}

/** A Secret's value that must be there (decoded); the error names the Secret and the key. */
export function requiredSecretField(secret: V1Secret | undefined, key: string): string {
  const value = secretField(secret, key);
  if (value === undefined) throw new Error(`Secret ${secret?.metadata?.name} has no ${key}`);
  return value;
}

/** A Secret of a namespace, once it exists. */
export async function eventualSecret(client: KubeClient, namespace: string, name: string): Promise<V1Secret> {
  return eventually(`Secret ${name}`, () => readObject<V1Secret>(client, K8S.Secret, name, namespace));
}

/**
 * The end-to-end tests' customer-custody tenant: admin `giulia` under two-factor, a space `vault`
 * on the loopback fixed address (so the certificate the operator issues names 127.0.0.1) whose key
 * is wrapped with `password` given through a password Secret as a tenant would, and an endpoint
 * `laptop`, Ready.
 */
export async function createCustomerCustodySpace(client: KubeClient, options: { tenant: string; country: string; datacenter: string; password: string; replicas: number }): Promise<{ namespace: string }> {
  const { namespace } = await createReadyTenant(client, options.tenant, {
    residency: { countries: [options.country] },
    quotas: { storage: '100Gi', spaces: 1, endpoints: 2 },
    security: { twoFactor: 'Required', keyCustody: 'customer' },
    users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }],
  });
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, namespace), body: { metadata: { name: 'vault-password' }, stringData: { password: options.password } } });
  await createSpace(client, 'vault', namespace, {
    size: '5Gi', datacenter: options.datacenter, replicas: options.replicas, fixedAddress: { ip: '127.0.0.1' },
    encryption: { customerPasswordSecretRef: { name: 'vault-password' }, atRest: true },
  });
  await createEndpoint(client, 'laptop', namespace, 'vault', { kind: 'Desktop', os: 'Linux' });
  await waitForCondition<Endpoint>(client, API.Endpoint, 'laptop', namespace, 'Ready', 'True', undefined, 90_000);
  return { namespace };
}

/** Whether the API server's authorizer lets `user` read one Secret (a SubjectAccessReview). */
export async function canGetSecret(client: KubeClient, user: string, namespace: string, name: string): Promise<boolean> {
  const review = await client.request<{ status: { allowed: boolean } }>({
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, resourceAttributes: { namespace, verb: 'get', resource: 'secrets', name } } },
  });
  return review.status.allowed;
}

/** Deletes test tenants, waiving the export so that their namespaces may go. */
export async function removeTenant(client: KubeClient, name: string): Promise<void> {
  await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { exportOnTermination: false } } }).catch(() => undefined);
  await client.request({ method: 'DELETE', path: objectPath(API.Tenant, name) }).catch(() => undefined);
}
