/**
 * The floor of the scale benchmark: the least work that produces the same fleet. Every object the
 * operator made for the bench's tenants (namespaces, Secrets, Deployments, Services, volume claims,
 * policies, RBAC, quotas …) is captured as it stands once the operator converged, with the status it
 * wrote on each Tenant, BackupSpace and Endpoint. On a fresh control plane with the same nodes and
 * volumes, one client then does, at the bench's concurrency:
 *   1. the crypto work the operator did once per object, with the operator's own functions: each
 *      person's enrolment, each space's keys, certificate, maintenance and report credentials, each
 *      endpoint's credentials (results dropped: the captured objects already hold what they made);
 *   2. creates the same Tenants, then server-side applies the namespaces, then creates the spaces and
 *      endpoints, server-side applies every captured object (owner references pointed at the new
 *      uids), and writes each parent's status once;
 *   3. waits until every gateway Deployment is available and every claim bound: the part of Ready
 *      that kube-controller-manager, the scheduler and kwok provide, whoever applied the objects.
 * Left out of the floor, and done by the operator: Events, reads, the address claims in the operator's
 * namespace, retries.
 */
import type { BackupSpace, Endpoint, Tenant } from '../src/api/types.ts';
import { API } from '../src/api/refs.ts';
import { newEnrolment } from '../src/controllers/access/desired.ts';
import { newSpaceKeys } from '../src/controllers/backupspace/keys.ts';
import { credentialSecret, gatewayTlsSecret } from '../src/controllers/backupspace/secrets.ts';
import { issueCredentials } from '../src/controllers/endpoint/desired.ts';
import { generateDataKey } from '../src/crypto/index.ts';
import { createCertificateAuthority } from '../src/pki/certificates.ts';
import { applyObject, type ApplyObject } from '../src/runtime/apply.ts';
import type { KubeClient } from '../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../src/runtime/kube/resource-ref.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../src/controllers/labels.ts';
import { eventually } from '../test/support/kube.ts';
import { list, pool } from './fleet-client.ts';

/** What the operator owns in a tenant's namespace, in the order a person would apply it. */
export const OWNED_KINDS: readonly ResourceRef[] = [
  K8S.ServiceAccount, K8S.Role, K8S.RoleBinding, K8S.ResourceQuota, K8S.LimitRange, K8S.NetworkPolicy,
  K8S.Secret, K8S.ConfigMap, K8S.PersistentVolumeClaim, K8S.Service, K8S.Deployment, K8S.PodDisruptionBudget,
];

interface Captured { metadata: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[] }; spec?: unknown; status?: unknown; [field: string]: unknown }

export interface CapturedFleet {
  tenants: Tenant[];
  spaces: BackupSpace[];
  endpoints: Endpoint[];
  namespaces: Captured[];
  /** Owned objects by kind, in OWNED_KINDS order. */
  owned: { ref: ResourceRef; objects: Captured[] }[];
  /** People with an enrolment (each a password hash and a TOTP secret). */
  people: number;
}

/** The fleet of tenants whose namespaces start with `namespacePrefix`, as the API server holds it now. */
export async function captureFleet(client: KubeClient, namePrefix: string, namespacePrefix: string): Promise<CapturedFleet> {
  const mine = <T extends { metadata: { namespace?: string } }>(items: T[]) => items.filter((o) => o.metadata.namespace?.startsWith(namespacePrefix));
  // What the operator made, not what Kubernetes adds to every namespace (kube-root-ca.crt …).
  const made = (items: Captured[]) => mine(items).filter((o) => o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);
  const tenants = (await list<Tenant>(client, API.Tenant)).filter((t) => t.metadata.name?.startsWith(namePrefix));
  const owned = [];
  for (const ref of OWNED_KINDS) owned.push({ ref, objects: made(await list<Captured>(client, ref)) });
  return {
    tenants,
    spaces: mine(await list<BackupSpace>(client, API.BackupSpace)),
    endpoints: mine(await list<Endpoint>(client, API.Endpoint)),
    namespaces: (await list<Captured>(client, K8S.Namespace)).filter((n) => n.metadata.name?.startsWith(namespacePrefix)),
    owned,
    people: tenants.reduce((sum, t) => sum + (t.spec.users?.length ?? 0), 0),
  };
}

/** A manifest as a user would write it: no server-set metadata, no status. */
function manifestOf(object: Captured, uids: ReadonlyMap<string, string>): ApplyObject {
  const { name, namespace, labels, annotations, ownerReferences } = object.metadata;
  const owners = (ownerReferences ?? []).flatMap((owner) => {
    const uid = uids.get(`${owner.kind}/${namespace ?? ''}/${owner.name}`) ?? uids.get(`${owner.kind}//${owner.name}`);
    return uid ? [{ ...owner, uid }] : [];
  });
  const { metadata: _metadata, status: _status, ...rest } = object;
  return {
    ...rest,
    metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}), ...(owners.length ? { ownerReferences: owners } : {}) },
  } as ApplyObject;
}

/** Posts a parent (Tenant, BackupSpace, Endpoint) with its spec only; returns its new uid. */
async function createParent(client: KubeClient, ref: ResourceRef, object: Tenant | BackupSpace | Endpoint): Promise<string> {
  const { name, namespace, labels, annotations } = object.metadata;
  const created = await client.request<{ metadata: { uid: string } }>({
    method: 'POST',
    path: collectionPath(ref, namespace),
    body: { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) }, spec: object.spec },
  });
  return created.metadata.uid;
}

async function writeStatus(client: KubeClient, ref: ResourceRef, object: Tenant | BackupSpace | Endpoint): Promise<void> {
  await client.request({
    method: 'PATCH',
    path: objectPath(ref, object.metadata.name ?? '', object.metadata.namespace, 'status'),
    body: { status: object.status },
    contentType: 'application/merge-patch+json',
  });
}

/** The crypto the operator did once per object, by its own functions, at `concurrency`. */
async function cryptoWork(client: KubeClient, fleet: CapturedFleet, concurrency: number): Promise<void> {
  const ca = await createCertificateAuthority('tenant-backup floor CA');
  const master = { key: generateDataKey(), id: 'floor' };
  const jobs: (() => Promise<unknown>)[] = [
    ...Array.from({ length: fleet.people }, () => () => newEnrolment()),
    ...fleet.spaces.flatMap((space) => [
      () => newSpaceKeys(client, space, '', 'provider', master),
      () => gatewayTlsSecret(space, '', undefined, ca, undefined),
      () => credentialSecret(space, '', 'maintenance', 'maintenance-credentials', 'maintenance'),
      () => credentialSecret(space, '', 'report', 'report-token', 'operator'),
    ]),
    ...fleet.endpoints.map((endpoint) => () => issueCredentials(endpoint, new Date())),
  ];
  await pool(jobs, concurrency, (job) => job());
}

export interface FloorFigures {
  seconds: number;
  cryptoSeconds: number;
  applySeconds: number;
  objectsApplied: number;
}

/** The floor on `client`'s (fresh) cluster: see the top of this file. */
export async function runFloor(client: KubeClient, fleet: CapturedFleet, concurrency: number): Promise<FloorFigures> {
  const start = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - start) / 1e9;
  await cryptoWork(client, fleet, concurrency);
  const cryptoSeconds = since();
  const uids = new Map<string, string>();
  await pool(fleet.tenants, concurrency, async (t) => uids.set(`Tenant//${t.metadata.name}`, await createParent(client, API.Tenant, t)));
  await pool(fleet.namespaces, concurrency, (n) => applyObject(client, K8S.Namespace, manifestOf(n, uids), 'floor'));
  await pool(fleet.spaces, concurrency, async (s) => uids.set(`BackupSpace/${s.metadata.namespace}/${s.metadata.name}`, await createParent(client, API.BackupSpace, s)));
  await pool(fleet.endpoints, concurrency, async (e) => uids.set(`Endpoint/${e.metadata.namespace}/${e.metadata.name}`, await createParent(client, API.Endpoint, e)));
  let objectsApplied = fleet.tenants.length + fleet.namespaces.length + fleet.spaces.length + fleet.endpoints.length;
  for (const { ref, objects } of fleet.owned) {
    await pool(objects, concurrency, (o) => applyObject(client, ref, manifestOf(o, uids), 'floor'));
    objectsApplied += objects.length;
  }
  await pool(fleet.tenants, concurrency, (t) => writeStatus(client, API.Tenant, t));
  await pool(fleet.spaces, concurrency, (s) => writeStatus(client, API.BackupSpace, s));
  await pool(fleet.endpoints, concurrency, (e) => writeStatus(client, API.Endpoint, e));
  const applySeconds = since() - cryptoSeconds;
  const deployments = fleet.owned.find((o) => o.ref === K8S.Deployment)?.objects.length ?? 0;
  const claims = fleet.owned.find((o) => o.ref === K8S.PersistentVolumeClaim)?.objects.length ?? 0;
  const prefix = fleet.namespaces[0]?.metadata.name?.replace(/\d+$/, '') ?? '';
  await eventually(`${deployments} gateway Deployments available and ${claims} claims bound`, async () => {
    const available = (await list<{ metadata: { namespace?: string }; spec?: { replicas?: number }; status?: { availableReplicas?: number } }>(client, K8S.Deployment))
      .filter((d) => d.metadata.namespace?.startsWith(prefix) && (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? 1)).length;
    const bound = (await list<{ metadata: { namespace?: string }; status?: { phase?: string } }>(client, K8S.PersistentVolumeClaim))
      .filter((c) => c.metadata.namespace?.startsWith(prefix) && c.status?.phase === 'Bound').length;
    return available >= deployments && bound >= claims ? true : undefined;
  }, { timeoutMs: 60 * 60_000, intervalMs: 500 });
  return { seconds: since(), cryptoSeconds, applySeconds, objectsApplied };
}
