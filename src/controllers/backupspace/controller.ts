/**
 * BackupSpace controller. For each space: check the cross-object rules (residency, custody, quota,
 * replicas) and build nothing if one is broken; make or read its keys; issue its gateway's
 * certificate and credentials; render the gateway's access configuration; and run the gateway pinned
 * to the datacenter's nodes. Deleting a space crypto-shreds it: its keys go first, and only once its
 * data was exported or the deletion waived (admission/deletion.ts).
 */
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { checkSpaceDeletion } from '../../admission/deletion.ts';
import { phaseAtLeast } from '../tenant/termination.ts';
import { ALLOWED, checkSpaceCustody, checkSpaceFitsQuota, checkSpaceReplicas, checkSpaceResidency, effectiveCustody, firstDenied, ruleReason } from '../../admission/rules.ts';
import { API } from '../../api/refs.ts';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../api/types.ts';
import { addFinalizer, applyStatus, createObjectOnce, deleteObject, removeFinalizer } from '../../runtime/apply.ts';
import { Controller, type ReconcileResult } from '../../runtime/controller.ts';
import type { Informer } from '../../runtime/informer.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { hasFinalizer, objectKey, type KubeObject } from '../../runtime/object.ts';
import { ensureApplied, type ControllerContext } from '../context.ts';
import {
  COMPONENT_LABEL,
  CREDENTIAL_HASH_ANNOTATION,
  enrolmentSecretName,
  GATEWAY_COMPONENT,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  PASSWORD_HASH_ANNOTATION,
  SPACE_LABEL,
  spaceObjectNames,
  endpointCredentialsSecretName,
  tenantNamespaceName,
} from '../labels.ts';
import { tenantNamedFor, tenantNamespaces, tenantOfOwnNamespace, type TenantNamespace } from '../tenants.ts';
import { enrolledUsers } from '../access/desired.ts';
import { repositoryPathOf } from '../endpoint/desired.ts';
import { renderAccessConfig, MAINTENANCE_USER } from './access-config.ts';
import { chooseAddress } from './address.ts';
import {
  desiredDisruptionBudget,
  desiredGateway,
  desiredPeerPolicy,
  desiredPeerService,
  desiredService,
  desiredServiceAccount,
  desiredVolume,
  desiredVolumeEncryptionSecret,
  type SpaceSettings,
} from './desired.ts';
import { newSpaceKeys, passwordSecretRef, readSpaceKeys, type Secret, type SpaceKeys } from './keys.ts';
import { credentialSecret, gatewayConfigSecret, gatewayTlsSecret, peerToken, SESSION_KEY } from './secrets.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import { spaceStatus, type SpaceObservation } from './status.ts';
import { fetchReport, gatewayAddress, type GatewayReports } from './report.ts';
import type { PemKeyPair } from '../../pki/certificates.ts';

export const SPACE_FINALIZER = 'tenantbackup.io/crypto-shred';

export interface SpaceControllerOptions extends SpaceSettings {
  /** The operator's CA, which signs the gateways' certificates. */
  certificateAuthority: () => Promise<PemKeyPair>;
  /** The operator's master key (kept in a Secret of its namespace). */
  masterKey: () => Promise<{ key: Buffer; id: string }>;
  /** Last reports of the gateways, shared with the endpoint controller. */
  reports: GatewayReports;
  /** How often a ready gateway is asked for its report. */
  reportIntervalMs: number;
  /** `namespace/space` → `host:port`, for an operator outside the cluster. */
  gatewayAddresses: ReadonlyMap<string, string>;
  /** Called when a new report arrived, so the space's endpoints show it. */
  onReport: (space: BackupSpace) => void;
}

interface SpaceCaches {
  spaces: Informer<BackupSpace>;
  tenants: Informer<Tenant>;
  namespaces: Informer<TenantNamespace>;
  datacenters: Informer<Datacenter>;
  endpoints: Informer<Endpoint>;
  secrets: Informer<Secret>;
  owned: Map<ResourceRef, Informer<KubeObject>>;
  pods: Informer<V1Pod & KubeObject>;
}

const OWNED_KINDS: readonly ResourceRef[] = [K8S.PersistentVolumeClaim, K8S.ServiceAccount, K8S.Deployment, K8S.Service, K8S.PodDisruptionBudget, K8S.NetworkPolicy];

/** Serialises address allocation per datacenter, so two spaces never pick the same free address. */
const addressLocks = new Map<string, Promise<unknown>>();
async function withAddressLock<T>(datacenter: string, work: () => Promise<T>): Promise<T> {
  const previous = addressLocks.get(datacenter) ?? Promise.resolve();
  const next = previous.then(work, work);
  addressLocks.set(datacenter, next.catch(() => undefined));
  return next;
}

export function createBackupSpaceController(ctx: ControllerContext, options: SpaceControllerOptions, concurrency = 2): Controller {
  const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
  const caches: SpaceCaches = {
    spaces: ctx.informers.for<BackupSpace>(API.BackupSpace),
    tenants: ctx.informers.for<Tenant>(API.Tenant),
    namespaces: tenantNamespaces(ctx.informers),
    datacenters: ctx.informers.for<Datacenter>(API.Datacenter),
    endpoints: ctx.informers.for<Endpoint>(API.Endpoint),
    secrets: ctx.informers.for<Secret>(K8S.Secret, { labelSelector: managed }),
    owned: new Map(OWNED_KINDS.map((ref) => [ref, ctx.informers.for<KubeObject>(ref, { labelSelector: `${managed},${SPACE_LABEL}` })])),
    pods: ctx.informers.for<V1Pod & KubeObject>(K8S.Pod, { labelSelector: `${COMPONENT_LABEL}=${GATEWAY_COMPONENT},${SPACE_LABEL}` }),
  };
  const controller = new Controller({ name: 'backupspace', concurrency, logger: ctx.logger, metrics: ctx.metrics, reconcile: (key) => reconcileSpace(ctx, caches, options, key) });
  const bySpaceLabel = (object: KubeObject) => {
    const space = object.metadata.labels?.[SPACE_LABEL];
    return space ? [`${object.metadata.namespace}/${space}`] : [];
  };
  const spacesOfNamespace = (namespace: string | undefined) => caches.spaces.list((s) => s.metadata.namespace === namespace).map((s) => objectKey(s));
  controller.watch(caches.spaces, (event) => [objectKey(event.object)]);
  for (const informer of caches.owned.values()) controller.watch(informer, (event) => bySpaceLabel(event.object));
  controller.watch(caches.pods, (event) => bySpaceLabel(event.object));
  // Credentials and enrolments feed the access configuration of every space of the namespace.
  controller.watch(caches.secrets, (event) => event.object.metadata.labels?.[SPACE_LABEL] ? bySpaceLabel(event.object) : spacesOfNamespace(event.object.metadata.namespace));
  controller.watch(caches.endpoints, (event) => [`${event.object.metadata.namespace}/${event.object.spec.spaceRef.name}`]);
  controller.watch(caches.tenants, (event) => spacesOfNamespace(tenantNamespaceName(event.object)));
  controller.watch(caches.namespaces, (event) => spacesOfNamespace(event.object.metadata.name));
  controller.watch(caches.datacenters, (event) => caches.spaces.list((s) => s.spec.datacenter === event.object.metadata.name).map((s) => objectKey(s)));
  return controller;
}

function secretOf(caches: SpaceCaches, namespace: string, name: string): Secret | undefined {
  return caches.secrets.get(`${namespace}/${name}`);
}

/** The first broken cross-object rule, as the webhook would have reported it. */
function brokenRule(space: BackupSpace, tenant: Tenant | undefined, datacenter: Datacenter | undefined, siblings: BackupSpace[]) {
  return firstDenied(
    checkSpaceResidency(space, tenant, datacenter),
    tenant ? checkSpaceCustody(space, tenant) : ALLOWED,
    tenant ? checkSpaceFitsQuota(space, siblings, tenant) : ALLOWED,
    datacenter ? checkSpaceReplicas(space, datacenter) : ALLOWED,
  );
}

async function report(ctx: ControllerContext, space: BackupSpace, observation: SpaceObservation): Promise<void> {
  await applyStatus(ctx.client, API.BackupSpace, space, spaceStatus(space, observation, ctx.now()));
}

async function reconcileSpace(ctx: ControllerContext, caches: SpaceCaches, options: SpaceControllerOptions, key: string): Promise<ReconcileResult | undefined> {
  const space = caches.spaces.get(key);
  if (!space) return undefined;
  if (space.metadata.deletionTimestamp) return cryptoShred(ctx, caches, options, space);
  // Held before anything is built; the rest of the reconcile does not depend on the object version.
  await addFinalizer(ctx.client, API.BackupSpace, space, SPACE_FINALIZER);

  const namespace = space.metadata.namespace ?? '';
  const names = spaceObjectNames(space.metadata.name ?? '');
  const tenant = tenantOfOwnNamespace(caches.tenants, caches.namespaces, namespace);
  const datacenter = caches.datacenters.get(space.spec.datacenter);
  const endpoints = caches.endpoints.list((e) => e.metadata.namespace === namespace && e.spec.spaceRef.name === space.metadata.name && (e.spec.spaceRef.namespace ?? namespace) === namespace);
  const base: SpaceObservation = { datacenter, pods: [], endpoints: endpoints.length };

  // Rules first: a space that breaks one gets nothing built (and an existing one keeps what it has).
  const siblings = caches.spaces.list((s) => s.metadata.namespace === namespace && s.metadata.uid !== space.metadata.uid);
  const broken = brokenRule(space, tenant, datacenter, siblings);
  if (!broken.allowed) {
    await report(ctx, space, { ...base, blocked: { state: 'stalled', reason: ruleReason(broken.rule), message: broken.message } });
    await ctx.recorder.warning(space, ruleReason(broken.rule), broken.message);
    return undefined;
  }
  if (!tenant || !datacenter) return undefined;
  // The tenant's termination is destroying the keys: nothing of the space is built again.
  if (phaseAtLeast(tenant.status?.termination?.phase, 'Shredding')) return undefined;
  const tenantName = tenant.metadata.name ?? '';

  // Keys.
  const master = await options.masterKey();
  let keySecret = secretOf(caches, namespace, names.keySecret);
  if (!keySecret) {
    if (space.status?.keyId) {
      const message = `the key Secret ${names.keySecret} of data key ${space.status.keyId} is gone. Data written under that key cannot be read without it, so no new key is made: restore the Secret from a backup, or delete and recreate the space to start over empty`;
      await report(ctx, space, { ...base, blocked: { state: 'stalled', reason: 'KeyMissing', message } });
      await ctx.recorder.warning(space, 'KeyMissing', message);
      return undefined;
    }
    const outcome = await newSpaceKeys(ctx.client, space, tenantName, effectiveCustody(space, tenant), master);
    if (!outcome.created) {
      await report(ctx, space, { ...base, blocked: { state: 'stalled', reason: outcome.reason, message: outcome.message } });
      // The password Secret is not ours and not watched: look again in a while.
      return { requeueAfterMs: 5000 };
    }
    keySecret = await createObjectOnce<Secret>(ctx.client, K8S.Secret, namespace, outcome.secret);
    if (!keySecret) return { requeueAfterMs: 500 };
    await ctx.recorder.normal(space, 'KeyCreated', `created data key ${outcome.keyId} (${effectiveCustody(space, tenant)} custody)`);
  }
  let keys: SpaceKeys;
  try {
    keys = readSpaceKeys(space, keySecret, master.key);
  } catch (error) {
    const message = `the key Secret ${names.keySecret} cannot be read with the operator's master key: ${error instanceof Error ? error.message : 'unreadable'}`;
    await report(ctx, space, { ...base, blocked: { state: 'stalled', reason: 'KeyUnreadable', message } });
    return undefined;
  }
  // The customer's password has done its job: it must not stay anywhere.
  const passwordRef = passwordSecretRef(space);
  if (keys.custody === 'customer' && passwordRef && await deleteObject(ctx.client, K8S.Secret, passwordRef.name, namespace)) {
    await ctx.recorder.normal(space, 'CustomerPasswordDeleted', `wrapped the data key with the customer's password and deleted Secret ${passwordRef.name}; the password is not stored`);
  }
  if (space.status?.keyId && space.status.keyId !== keys.keyId) {
    const message = `the key Secret ${names.keySecret} holds key ${keys.keyId}, but this space's data is under key ${space.status.keyId}`;
    await report(ctx, space, { ...base, blocked: { state: 'stalled', reason: 'KeyMismatch', message } });
    return undefined;
  }
  const keyFacts = { keyId: keys.keyId, custody: keys.custody };

  // Fixed address (S8).
  let address: string | undefined;
  if (space.spec.fixedAddress) {
    const choice = await withAddressLock(datacenter.metadata.name ?? '', async () => chooseAddress(space, datacenter, caches.spaces.list((s) => s.spec.datacenter === space.spec.datacenter)));
    if (!choice.ok) {
      await report(ctx, space, { ...base, keys: keyFacts, blocked: { state: 'stalled', reason: choice.reason, message: choice.message } });
      return undefined;
    }
    address = choice.address;
    if (space.status?.address !== address) {
      // Record the address at once, so the next space's allocation sees it taken.
      await applyStatus(ctx.client, API.BackupSpace, space, { ...space.status, address });
      await ctx.recorder.normal(space, 'AddressAssigned', `fixed address ${address} from the pool of ${datacenter.metadata.name}`);
    }
  }

  // Credentials the gateway checks against.
  for (const [name, type, username] of [[names.maintenanceSecret, 'maintenance-credentials', MAINTENANCE_USER], [names.reportTokenSecret, 'report-token', 'operator']] as const) {
    if (!secretOf(caches, namespace, name)) await createObjectOnce(ctx.client, K8S.Secret, namespace, await credentialSecret(space, tenantName, name, type, username));
  }
  const hashOf = (secret: Secret | undefined) => secret?.metadata.annotations?.[CREDENTIAL_HASH_ANNOTATION];
  const reportTokenHash = hashOf(secretOf(caches, namespace, names.reportTokenSecret));
  if (!reportTokenHash) return { requeueAfterMs: 500 };

  const tls = await gatewayTlsSecret(space, tenantName, address, await options.certificateAuthority(), secretOf(caches, namespace, names.tlsSecret));
  if (tls) await ensureApplied(ctx, K8S.Secret, tls, undefined);

  const access = renderAccessConfig({
    space,
    tenant,
    keys,
    endpoints: endpoints.flatMap((endpoint) => {
      const credentials = secretOf(caches, namespace, endpointCredentialsSecretName(endpoint.metadata.name ?? ''));
      const hash = hashOf(credentials);
      return hash ? [{ endpoint, credentialHash: hash, repository: repositoryPathOf(endpoint.metadata.name ?? '', credentials) }] : [];
    }),
    users: enrolledUsers(tenant).flatMap((user) => {
      const enrolment = secretOf(caches, namespace, enrolmentSecretName(user.name));
      const passwordHash = enrolment?.metadata.annotations?.[PASSWORD_HASH_ANNOTATION];
      if (!passwordHash) return [];
      const totpSecret = secretField(enrolment, 'totpSecret');
      return [{ name: user.name, email: user.email, role: user.role ?? 'viewer', passwordHash, ...(totpSecret ? { totpSecret } : {}) }];
    }),
    maintenanceHash: hashOf(secretOf(caches, namespace, names.maintenanceSecret)),
    reportTokenHash,
    now: ctx.now(),
  });
  const sessionKey = secretField(secretOf(caches, namespace, names.reportTokenSecret), SESSION_KEY);
  const peers = peerToken(master.key, space.metadata.uid ?? '');
  await ensureApplied(ctx, K8S.Secret, gatewayConfigSecret(space, tenantName, access, keys, sessionKey, peers), secretOf(caches, namespace, names.configSecret));
  const volumeSecret = desiredVolumeEncryptionSecret(space, tenantName, datacenter, keys.volumePassphrase);
  if (volumeSecret) await ensureApplied(ctx, K8S.Secret, volumeSecret, secretOf(caches, namespace, names.volumeEncryptionSecret));

  // Volume, gateway, Service.
  const desired = [
    desiredVolume(space, tenantName, datacenter),
    desiredServiceAccount(space, tenantName),
    desiredGateway(space, tenantName, datacenter, options),
    desiredService(space, tenantName, datacenter, address),
    desiredPeerService(space, tenantName),
    desiredPeerPolicy(space, tenantName),
  ];
  const budget = desiredDisruptionBudget(space, tenantName);
  if (budget) desired.push(budget);
  for (const object of desired) {
    const ref = OWNED_KINDS.find((r) => r.kind === object.kind);
    if (!ref) throw new Error(`no owned kind ${object.kind}`);
    await ensureApplied(ctx, ref, object, caches.owned.get(ref)?.get(`${namespace}/${object.metadata.name}`));
  }
  if (!budget && caches.owned.get(K8S.PodDisruptionBudget)?.get(`${namespace}/${names.disruptionBudget}`)) {
    await deleteObject(ctx.client, K8S.PodDisruptionBudget, names.disruptionBudget, namespace);
  }

  const gateway = caches.owned.get(K8S.Deployment)?.get(`${namespace}/${names.gateway}`) as V1Deployment | undefined;
  const volume = caches.owned.get(K8S.PersistentVolumeClaim)?.get(`${namespace}/${names.volume}`) as V1PersistentVolumeClaim | undefined;
  const pods = caches.pods.list((p) => p.metadata.namespace === namespace && p.metadata.labels?.[SPACE_LABEL] === space.metadata.name && !p.metadata.deletionTimestamp);
  const serving = (gateway?.status?.readyReplicas ?? 0) > 0;
  if (serving) await pollReport(ctx, options, space, secretField(secretOf(caches, namespace, names.reportTokenSecret), 'password'));
  await report(ctx, space, { ...base, keys: keyFacts, address, gateway, volume, pods, gatewayReport: options.reports.get(key)?.report });
  // A serving gateway is asked again for its report: usage and last backups change without any event.
  return serving ? { requeueAfterMs: options.reportIntervalMs } : undefined;
}

/** Asks the space's gateway for its report, at most once per interval; a failure keeps the last one. */
async function pollReport(ctx: ControllerContext, options: SpaceControllerOptions, space: BackupSpace, token: string | undefined): Promise<void> {
  const key = objectKey(space);
  if (!token || !options.reports.due(key, options.reportIntervalMs - 1000)) return;
  try {
    const address = gatewayAddress(space.metadata.namespace ?? '', space.metadata.name ?? '', options.gatewayAddresses);
    options.reports.set(key, await fetchReport(address, token, (await options.certificateAuthority()).certificate));
    options.onReport(space);
  } catch (error) {
    ctx.logger.debug({ space: key, err: error instanceof Error ? error.message : String(error) }, 'gateway report not available');
  }
}

/**
 * Deleting a space destroys its keys first (crypto-shred: every copy of the ciphertext becomes
 * unreadable), then lets garbage collection remove the volume and the gateway.
 */
async function cryptoShred(ctx: ControllerContext, caches: SpaceCaches, options: SpaceControllerOptions, space: BackupSpace): Promise<ReconcileResult | undefined> {
  if (!hasFinalizer(space, SPACE_FINALIZER)) return undefined;
  const namespace = space.metadata.namespace ?? '';
  // The webhook's rule, again: admission may have been bypassed, and a shredded key cannot come back.
  const verdict = checkSpaceDeletion(space, tenantNamedFor(caches.tenants, namespace));
  if (!verdict.allowed) {
    await report(ctx, space, { datacenter: caches.datacenters.get(space.spec.datacenter), pods: [], endpoints: space.status?.endpoints ?? 0, blocked: { state: 'stalled', reason: 'DeletionRefused', message: verdict.message } });
    await ctx.recorder.warning(space, 'DeletionRefused', verdict.message);
    return undefined;
  }
  const names = spaceObjectNames(space.metadata.name ?? '');
  const keyWasThere = await deleteObject(ctx.client, K8S.Secret, names.keySecret, namespace);
  for (const name of [names.configSecret, names.volumeEncryptionSecret]) await deleteObject(ctx.client, K8S.Secret, name, namespace);
  options.reports.delete(objectKey(space));
  if (keyWasThere) await ctx.recorder.normal(space, 'CryptoShredded', `destroyed data key ${space.status?.keyId ?? ''}: the space's data can no longer be decrypted`);
  ctx.logger.info({ space: objectKey(space), keyId: space.status?.keyId }, 'space keys destroyed; releasing the space');
  await removeFinalizer(ctx.client, API.BackupSpace, space, SPACE_FINALIZER);
  return undefined;
}

