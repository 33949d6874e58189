/**
 * BackupSpace controller. For each space, a short sequence of steps, each in its own module:
 * rules (build nothing when one is broken) → keys read → address claimed → keys made (only now,
 * once every rule that can fail was judged) → credentials and certificates → access configuration →
 * workload; then the status, written once at the end from what the steps observed (Cluster API's
 * patch-once-at-the-end). Deleting a space crypto-shreds it (shred.ts).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { API } from '../../api/refs.ts';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../api/types.ts';
import type { PemKeyPair } from '../../pki/certificates.ts';
import { addFinalizer, applyStatus } from '../../runtime/apply.ts';
import { Controller, type ReconcileResult } from '../../runtime/controller.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../../runtime/object.ts';
import type { ControllerContext } from '../context.ts';
import { spacesInDatacenter } from '../cache-indexes.ts';
import { COMPONENT_LABEL, GATEWAY_COMPONENT, MANAGED_BY, MANAGED_BY_LABEL, SPACE_LABEL, tenantNamespaceName } from '../labels.ts';
import { tenantNamespaces } from '../tenants.ts';
import { applyAccessConfig } from './access-step.ts';
import { assignAddress, giveBackAddress } from './address-step.ts';
import { ensureCredentials } from './credentials-step.ts';
import { replicasOf, type SpaceSettings } from './desired.ts';
import type { Secret } from './keys.ts';
import { completeKeys, readKeys, type MasterKey } from './keys-step.ts';
import type { GatewayReports } from './report.ts';
import { judgeRules } from './rules.ts';
import { cryptoShred, SPACE_FINALIZER } from './shred.ts';
import { spaceStatus, type SpaceObservation } from './status.ts';
import { gatherFacts, secretOf, type Halt, type SpaceCaches, type SpaceFacts } from './step.ts';
import { storeReportedCustomerKey } from './customer-key-step.ts';
import { upToDateCondition } from './upgrade.ts';
import { planGatewayImage } from './upgrade-step.ts';
import { applyWorkload, OWNED_KINDS } from './workload-step.ts';

export { SPACE_FINALIZER } from './shred.ts';

export interface SpaceControllerOptions extends SpaceSettings {
  /** The operator's namespace, which holds the datacenters' address allocations. */
  operatorNamespace: string;
  /** The operator's CA, which signs the gateways' certificates. */
  certificateAuthority: () => Promise<PemKeyPair>;
  /** The operator's master key (kept in a Secret of its namespace). */
  masterKey: () => Promise<MasterKey>;
  /** The gateways' last reports (report-poller.ts fetches them); a space with news is reconciled. */
  reports: GatewayReports;
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
  const controller = new Controller({ name: 'backupspace', concurrency, logger: ctx.logger, metrics: ctx.metrics, failureStatus: { client: ctx.client, ref: API.BackupSpace }, reconcile: (key) => reconcileSpace(ctx, caches, options, key) });
  const bySpaceLabel = (object: KubeObject) => {
    const space = object.metadata.labels?.[SPACE_LABEL];
    return space ? [`${object.metadata.namespace}/${space}`] : [];
  };
  const spacesOfNamespace = (namespace: string | undefined) => caches.spaces.inNamespace(namespace ?? '').map((s) => objectKey(s));
  controller.watch(caches.spaces, (event) => [objectKey(event.object)]);
  for (const informer of caches.owned.values()) controller.watch(informer, (event) => bySpaceLabel(event.object));
  controller.watch(caches.pods, (event) => bySpaceLabel(event.object));
  // Credentials and enrolments feed the access configuration of every space of the namespace.
  controller.watch(caches.secrets, (event) => event.object.metadata.labels?.[SPACE_LABEL] ? bySpaceLabel(event.object) : spacesOfNamespace(event.object.metadata.namespace));
  controller.watch(caches.endpoints, (event) => [`${event.object.metadata.namespace}/${event.object.spec.spaceRef.name}`]);
  controller.watch(caches.tenants, (event) => spacesOfNamespace(tenantNamespaceName(event.object)));
  controller.watch(caches.namespaces, (event) => spacesOfNamespace(event.object.metadata.name));
  controller.watch(caches.datacenters, (event) => spacesInDatacenter(caches.spaces, event.object.metadata.name ?? '').map((s) => objectKey(s)));
  options.reports.subscribe((spaceKey) => controller.enqueue(spaceKey));
  return controller;
}

/** How the sequence ended: stopped by a step, or through to the end. */
type Ending = Halt | { kind: 'done' };

async function reconcileSpace(ctx: ControllerContext, caches: SpaceCaches, options: SpaceControllerOptions, key: string): Promise<ReconcileResult | undefined> {
  const space = caches.spaces.get(key);
  if (!space) return undefined;
  if (space.metadata.deletionTimestamp) {
    // Its report goes with it in the poller; its fixed address goes back to the pool here.
    return cryptoShred(ctx, caches, space, (shredded) => giveBackAddress(ctx, options.operatorNamespace, shredded));
  }
  // Held before anything is built; the rest of the reconcile does not depend on the object version.
  await addFinalizer(ctx.client, API.BackupSpace, space, SPACE_FINALIZER);

  const facts = gatherFacts(caches, space, key);
  const observation: SpaceObservation = { datacenter: facts.datacenter, pods: [], endpoints: facts.endpoints.length };
  const ending = await provision(ctx, caches, options, facts, observation);

  // The status, once, from what the steps observed.
  if (ending.kind === 'wait') return requeue(ending.requeueAfterMs);
  await applyStatus(ctx.client, API.BackupSpace, space, spaceStatus(space, ending.kind === 'blocked' ? { ...observation, blocked: ending.blocked } : observation, ctx.now()));
  if (ending.kind === 'done') return undefined;
  if (ending.warn) await ctx.recorder.warning(space, ending.blocked.reason, ending.blocked.message);
  return requeue(ending.requeueAfterMs);
}

const requeue = (requeueAfterMs: number | undefined): ReconcileResult | undefined => (requeueAfterMs !== undefined ? { requeueAfterMs } : undefined);

/** The steps in order; each fills in `observation` with what the status shows of it. */
async function provision(ctx: ControllerContext, caches: SpaceCaches, options: SpaceControllerOptions, base: SpaceFacts, observation: SpaceObservation): Promise<Ending> {
  const rules = judgeRules(base);
  if (!rules.ok) return rules.halt;
  const facts = rules.value;

  const stored = await readKeys(caches, options.masterKey, facts);
  if (!stored.ok) return stored.halt;
  if (stored.value.keys) observation.keys = { keyId: stored.value.keys.keyId, custody: stored.value.keys.custody };

  // Claimed before a key is made: a space whose address cannot be had gets no key Secret.
  const address = await assignAddress(ctx, caches, options.operatorNamespace, facts);
  if (!address.ok) return address.halt;
  observation.address = address.value;

  const completed = await completeKeys(ctx, facts, stored.value);
  if (!completed.ok) return completed.halt;
  const report = options.reports.get(facts.key)?.report;
  // A space password the customer set or changed at the gateway goes into the key Secret first.
  const keys = await storeReportedCustomerKey(ctx, facts, completed.value, secretOf(caches, facts.namespace, facts.names.keySecret), report);
  observation.keys = { keyId: keys.keys.keyId, custody: keys.keys.custody };

  const credentials = await ensureCredentials(ctx, caches, options.certificateAuthority, facts, address.value);
  if (!credentials.ok) return credentials.halt;

  await applyAccessConfig(ctx, caches, facts, keys, credentials.value.reportTokenHash);

  // options.gatewayImage is the operator's current gateway image; a Manual space may stay on another.
  const plan = await planGatewayImage(ctx, caches, facts, options.gatewayImage);
  const workload = await applyWorkload(ctx, caches, facts, { ...options, gatewayImage: plan.choice.image }, address.value);
  Object.assign(observation, workload);
  observation.upToDate = upToDateCondition({ space: facts.space, ...plan, current: options.gatewayImage, observed: workload.gateway, wanted: replicasOf(facts.space) });

  observation.gatewayReport = report;
  return { kind: 'done' };
}
