/**
 * Endpoint controller: each backup device gets its own credentials Secret (issued once, never
 * regenerated behind the customer's back) with the CA that signs its gateway's certificate, a
 * one-time activation code that enrols the device at the gateway (desired.ts), and its private
 * repository on its space. An endpoint pointing at a space of another namespace, or at no space, is Stalled.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { checkEndpointSpaceRef } from '../../admission/rules.ts';
import type { EndpointStatus } from '../../api/endpoint.ts';
import { API } from '../../api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../../api/types.ts';
import { applyStatus, createObjectOnce } from '../../runtime/apply.ts';
import { healthConditions, findCondition, removeCondition, setCondition, warnIfNewlyStalled, type Health } from '../../runtime/conditions.ts';
import { Controller, type ReconcileResult } from '../../runtime/controller.ts';
import type { Informer } from '../../runtime/informer.ts';
import { CONTENT_TYPE } from '../../runtime/kube/client.ts';
import { base64, secretField } from '../../runtime/kube/secrets.ts';
import { K8S, objectPath } from '../../runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../../runtime/object.ts';
import type { ControllerContext } from '../context.ts';
import { endpointsOfSpace } from '../cache-indexes.ts';
import { ENDPOINT_LABEL, endpointCredentialsSecretName, endpointRepository, MANAGED_BY, MANAGED_BY_LABEL, SECRET_TYPE_LABEL, tenantNamespaceName } from '../labels.ts';
import { tenantNamespaces, tenantOfOwnNamespace, type TenantNamespace } from '../tenants.ts';
import { ACTIVATION_CODE_KEY, ACTIVATION_EXPIRES_KEY, CA_CERT_KEY, credentialsSecret, ENROLMENT_KEY, issueCredentials, repositoryPathOf, repositoryUrl } from './desired.ts';
import type { PemKeyPair } from '../../pki/certificates.ts';
import { humanBytes, type GatewayReports } from '../backupspace/report.ts';
import type { EndpointReport } from '../../gateway/report-contract.ts';
import { isOutdatedAgent, MINIMUM_AGENT } from './agent.ts';
import { accessSuspended, BACKUP_OVERDUE, backupFreshness, freshnessEvent, type Freshness } from './freshness.ts';

type Secret = V1Secret & KubeObject;

interface EndpointCaches {
  endpoints: Informer<Endpoint>;
  spaces: Informer<BackupSpace>;
  tenants: Informer<Tenant>;
  namespaces: Informer<TenantNamespace>;
  secrets: Informer<Secret>;
}

export interface EndpointControllerOptions {
  /** The gateways' last reports (what each endpoint's gateway saw of it). */
  reports: GatewayReports;
  /** The operator's CA, which signs the gateways' certificates: its certificate goes to each device. */
  certificateAuthority: () => Promise<PemKeyPair>;
}

export function createEndpointController(ctx: ControllerContext, options: EndpointControllerOptions, concurrency = 2): Controller {
  const { reports } = options;
  const caches: EndpointCaches = {
    endpoints: ctx.informers.for<Endpoint>(API.Endpoint),
    spaces: ctx.informers.for<BackupSpace>(API.BackupSpace),
    tenants: ctx.informers.for<Tenant>(API.Tenant),
    namespaces: tenantNamespaces(ctx.informers),
    secrets: ctx.informers.for<Secret>(K8S.Secret, { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }),
  };
  const controller = new Controller({ name: 'endpoint', concurrency, logger: ctx.logger, metrics: ctx.metrics, failureStatus: { client: ctx.client, ref: API.Endpoint }, reconcile: (key) => reconcileEndpoint(ctx, caches, options, key) });
  controller.watch(caches.endpoints, (event) => [objectKey(event.object)]);
  controller.watch(caches.secrets, (event) => {
    const endpoint = event.object.metadata.labels?.[ENDPOINT_LABEL];
    return endpoint && event.object.metadata.labels?.[SECRET_TYPE_LABEL] === 'endpoint-credentials' ? [`${event.object.metadata.namespace}/${endpoint}`] : [];
  });
  controller.watch(caches.spaces, (event) => endpointsOfSpace(caches.endpoints, event.object.metadata.namespace ?? '', event.object.metadata.name ?? '').map((e) => objectKey(e)));
  // By the tenant's namespace name, not a cache lookup: a deleted tenant is gone from the cache already.
  controller.watch(caches.tenants, (event) => {
    const namespace = tenantNamespaceName(event.object);
    return caches.endpoints.inNamespace(namespace).map((e) => objectKey(e));
  });
  controller.watch(caches.namespaces, (event) => caches.endpoints.inNamespace(event.object.metadata.name ?? '').map((e) => objectKey(e)));
  // A space's new gateway report changes what its endpoints show (last backup, bytes, agent).
  reports.subscribe((spaceKey) => {
    const [namespace, space] = spaceKey.split('/');
    for (const endpoint of endpointsOfSpace(caches.endpoints, namespace ?? '', space ?? '')) controller.enqueue(objectKey(endpoint));
  });
  return controller;
}

export function endpointHealth(endpoint: Endpoint, space: BackupSpace | undefined, tenant: Tenant | undefined, credentialsIssued: boolean): Health {
  const refCheck = checkEndpointSpaceRef(endpoint);
  if (!refCheck.allowed) return { state: 'stalled', reason: 'SpaceInOtherNamespace', message: refCheck.message };
  if (!tenant) return { state: 'stalled', reason: 'NoTenant', message: `namespace ${endpoint.metadata.namespace} does not belong to a tenant` };
  if (!space) return { state: 'stalled', reason: 'SpaceNotFound', message: `spec.spaceRef: BackupSpace ${endpoint.spec.spaceRef.name} does not exist in namespace ${endpoint.metadata.namespace}` };
  if (!credentialsIssued) return { state: 'progressing', reason: 'IssuingCredentials', message: 'issuing credentials' };
  if (endpoint.spec.suspended) return { state: 'ready', reason: 'Suspended', message: 'the endpoint is suspended: its access is refused' };
  if (tenant.spec.contract?.state === 'Suspended') return { state: 'ready', reason: 'ContractSuspended', message: 'the tenant\'s contract is suspended: access is refused' };
  if (findCondition(space.status?.conditions, 'Ready')?.status !== 'True') {
    return { state: 'progressing', reason: 'WaitingForSpace', message: `credentials issued; waiting for space ${space.metadata.name} to be ready` };
  }
  return { state: 'ready', reason: 'Ready', message: `credentials issued; the device backs up to ${repositoryUrl(endpoint, space)}` };
}

/** What the gateway saw of this endpoint: its last backup, what it stores, its backup client (S3, S4). */
function reportedFacts(previous: EndpointStatus, reported: EndpointReport | undefined, minimumAgent: string): Partial<EndpointStatus> {
  if (!reported) {
    const { lastBackupTime, bytesStored, stored, agentVersion, agentOutdated } = previous;
    return JSON.parse(JSON.stringify({ lastBackupTime, bytesStored, stored, agentVersion, agentOutdated })) as Partial<EndpointStatus>;
  }
  const outdated = reported.agent ? isOutdatedAgent(reported.agent, minimumAgent) : undefined;
  return {
    ...(reported.lastBackupAt ? { lastBackupTime: reported.lastBackupAt } : {}),
    bytesStored: reported.bytesStored,
    stored: humanBytes(reported.bytesStored),
    ...(reported.agent ? { agentVersion: reported.agent } : {}),
    ...(outdated !== undefined ? { agentOutdated: outdated } : {}),
  };
}

export function endpointStatus(endpoint: Endpoint, space: BackupSpace | undefined, tenant: Tenant | undefined, secretName: string | undefined, now: Date, reported?: EndpointReport, minimumAgent = MINIMUM_AGENT, repository = endpointRepository(endpoint.metadata.name ?? '')): EndpointStatus {
  return endpointStatusAndFreshness(endpoint, space, tenant, secretName, now, reported, minimumAgent, repository).status;
}

/** The status, and the freshness it was decided on (whose recheck time the reconcile requeues at). */
function endpointStatusAndFreshness(endpoint: Endpoint, space: BackupSpace | undefined, tenant: Tenant | undefined, secretName: string | undefined, now: Date, reported: EndpointReport | undefined, minimumAgent: string, repository: string): { status: EndpointStatus; freshness?: Freshness } {
  const health = endpointHealth(endpoint, space, tenant, secretName !== undefined);
  const suspended = accessSuspended(endpoint, tenant);
  const previous = endpoint.status ?? {};
  const facts = reportedFacts(previous, reported, minimumAgent);
  const kstatus = healthConditions(previous.conditions, health, endpoint.metadata.generation, now);
  const freshness = backupFreshness(endpoint, tenant, facts.lastBackupTime, now);
  const conditions = freshness
    ? setCondition(kstatus, freshness.condition, endpoint.metadata.generation, now)
    : removeCondition(kstatus, BACKUP_OVERDUE);
  const status: EndpointStatus = {
    ...facts,
    observedGeneration: endpoint.metadata.generation,
    conditions,
    ...(secretName ? { credentialsSecretName: secretName } : {}),
    activation: suspended ? 'Suspended' : facts.lastBackupTime ? 'Active' : 'Pending',
    repository,
    ...(space ? { url: repositoryUrl(endpoint, space) } : {}),
  };
  return { status, ...(freshness ? { freshness } : {}) };
}

async function reconcileEndpoint(ctx: ControllerContext, caches: EndpointCaches, options: EndpointControllerOptions, key: string): Promise<ReconcileResult | undefined> {
  const { reports } = options;
  const endpoint = caches.endpoints.get(key);
  if (!endpoint || endpoint.metadata.deletionTimestamp) return undefined;
  const namespace = endpoint.metadata.namespace ?? '';
  const tenant = tenantOfOwnNamespace(caches.tenants, caches.namespaces, namespace);
  const refOk = checkEndpointSpaceRef(endpoint).allowed;
  const space = refOk ? caches.spaces.get(`${namespace}/${endpoint.spec.spaceRef.name}`) : undefined;
  const secretName = endpointCredentialsSecretName(endpoint.metadata.name ?? '');
  let secret = caches.secrets.get(`${namespace}/${secretName}`);

  const caCertificate = space && tenant ? (await options.certificateAuthority()).certificate : undefined;
  if (space && tenant && !secret && caCertificate !== undefined) {
    const issued = await issueCredentials(endpoint, ctx.now());
    const desired = credentialsSecret(endpoint, space, tenant.metadata.name ?? '', issued, caCertificate);
    secret = await createObjectOnce<Secret>(ctx.client, K8S.Secret, namespace, desired);
    // Created meanwhile by another reconcile: the cache will catch up; never overwrite issued credentials.
    if (!secret) return { requeueAfterMs: 500 };
    await ctx.recorder.normal(endpoint, 'CredentialsIssued', `issued credentials in Secret ${secretName}`);
  }
  if (space && secret && caCertificate !== undefined) await keepSecretCurrent(ctx, endpoint, space, secret, caCertificate);

  const reported = space ? reports.get(objectKey(space))?.report.endpoints.find((e) => e.name === endpoint.metadata.name) : undefined;
  const now = ctx.now();
  const { status, freshness } = endpointStatusAndFreshness(endpoint, space, tenant, secret ? secretName : undefined, now, reported, MINIMUM_AGENT, repositoryPathOf(endpoint.metadata.name ?? '', secret));
  await applyStatus(ctx.client, API.Endpoint, endpoint, status);
  // SpaceNotFound, a space of another namespace, no tenant: said in Events too, not only in status.
  await warnIfNewlyStalled(ctx, endpoint, endpoint.status?.conditions, status.conditions);
  const event = freshnessEvent(findCondition(endpoint.status?.conditions, BACKUP_OVERDUE), findCondition(status.conditions, BACKUP_OVERDUE));
  if (event) await ctx.recorder[event.type === 'Warning' ? 'warning' : 'normal'](endpoint, event.reason, event.note);
  // On time now: look again when it would turn overdue, whether or not anything else changes by then.
  const recheck = freshness?.recheckAfterMs;
  return recheck !== undefined ? { requeueAfterMs: recheck } : undefined;
}


/**
 * The repository URL follows the space's address and ca.crt the operator's CA (Secrets issued before
 * ca.crt existed get it too); the activation code and its enrolment are dropped once the device has
 * backed up.
 */
async function keepSecretCurrent(ctx: ControllerContext, endpoint: Endpoint, space: BackupSpace, secret: Secret, caCertificate: string): Promise<void> {
  const patch: Record<string, string | null> = {};
  const url = repositoryUrl(endpoint, space);
  if (secretField(secret, 'repository') !== url) patch.repository = base64(url);
  if (secretField(secret, CA_CERT_KEY) !== caCertificate) patch[CA_CERT_KEY] = base64(caCertificate);
  if (endpoint.status?.lastBackupTime) {
    for (const key of [ACTIVATION_CODE_KEY, ENROLMENT_KEY, ACTIVATION_EXPIRES_KEY]) if (secret.data?.[key] !== undefined) patch[key] = null;
  }
  if (Object.keys(patch).length === 0) return;
  await ctx.client.request({
    method: 'PATCH',
    path: objectPath(K8S.Secret, secret.metadata.name ?? '', secret.metadata.namespace),
    body: { data: patch },
    contentType: CONTENT_TYPE.merge,
  });
}
