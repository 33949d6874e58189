/**
 * Runs one step of a tenant's termination: read the record (the memory), observe, ask the pure
 * machine for the next step, perform it, write the record back under its resourceVersion, mirror it
 * into status, and say it in an Event. One step per reconcile, so every step boundary is a place a
 * crash can happen and the next reconcile resumes from.
 */
import { API } from '../../api/refs.ts';
import type { Tenant } from '../../api/types.ts';
import { applyStatus, deleteObject, removeFinalizer } from '../../runtime/apply.ts';
import type { Health } from '../../runtime/conditions.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { hasFinalizer } from '../../runtime/object.ts';
import type { ControllerContext } from '../context.ts';
import { tenantNamespaceName } from '../labels.ts';
import { GATEWAY_INGRESS_POLICY } from './desired.ts';
import { tenantStatus } from './status.ts';
import { newRecord, nextStep, recordDestroyed, recordExported, recordVerified, type SpaceRecord, type TerminationRecord } from './termination.ts';
import { observedSpace, observeTermination, type FactSources } from './termination-facts.ts';
import { createRecord, readRecord, recordName, writeRecord, type StoredRecord } from './termination-record.ts';
import type { ExportRequest, ExportRunner } from './termination-runner.ts';
import { terminationHealth, terminationStatus } from './termination-status.ts';

export const TENANT_FINALIZER = 'tenantbackup.io/tenant-protection';

export interface TerminationOptions {
  runner: ExportRunner;
  /** The provider's name in the bags (Source-Organization). */
  organization: string;
}

const KINDS: Record<string, ResourceRef> = { BackupSpace: API.BackupSpace, Endpoint: API.Endpoint, Namespace: K8S.Namespace, Secret: K8S.Secret };

/** `Kind/namespace/name` or `Kind/name` → what deleteObject needs. */
function parseObject(object: string): { ref: ResourceRef; name: string; namespace?: string } {
  const [kind = '', ...rest] = object.split('/');
  const ref = KINDS[kind];
  if (!ref) throw new Error(`termination cannot delete a ${kind}`);
  return rest.length === 2 ? { ref, namespace: rest[0], name: rest[1] ?? '' } : { ref, name: rest[0] ?? '' };
}

function exportRequest(tenant: Tenant, record: TerminationRecord, uid: string, options: TerminationOptions): ExportRequest {
  const space = record.spaces.find((s) => s.uid === uid);
  const target = tenant.spec.contract?.exportTarget;
  if (!space || !target) throw new Error(`no export can be made for space ${uid}`);
  return { tenant: record.tenant.name, organization: options.organization, space, createdAt: new Date(record.exportCreatedAt), target };
}

async function report(ctx: ControllerContext, tenant: Tenant, record: TerminationRecord, name: string, health: Health): Promise<void> {
  const done = record.phase === 'Done';
  const status = tenantStatus(tenant, {
    namespaceReady: !done,
    terminating: !done || Boolean(tenant.metadata.deletionTimestamp),
    health,
    termination: terminationStatus(record, name, health.message),
  }, ctx.now());
  await applyStatus(ctx.client, API.Tenant, tenant, status);
}

/** The record of this tenant, made at the first step of its termination. */
async function loadRecord(ctx: ControllerContext, sources: FactSources, tenant: Tenant, trigger: TerminationRecord['trigger']): Promise<StoredRecord> {
  const namespace = ctx.settings.operatorNamespace;
  const name = recordName(tenant);
  const stored = await readRecord(ctx.client, namespace, name);
  if (stored) return stored;
  const spaces = sources.spaces.inNamespace(tenantNamespaceName(tenant));
  const created = await createRecord(ctx.client, namespace, name, newRecord(tenant, trigger, spaces.map(observedSpace), ctx.now()));
  await ctx.recorder.normal(tenant, 'TerminationStarted', `termination started (${trigger === 'TenantDeleted' ? 'the tenant was deleted' : 'the contract is Terminated'}); record ${namespace}/${name}`);
  return created;
}

type Outcome = { health: Health; requeueAfterMs?: number };
type Save = (record: TerminationRecord) => Promise<void>;

/** Runs (or polls) the space's export; its result goes into the record with an Event. */
async function performExport(ctx: ControllerContext, options: TerminationOptions, tenant: Tenant, record: TerminationRecord, space: SpaceRecord, save: Save, health: Health): Promise<Outcome> {
  const progress = await options.runner.export(exportRequest(tenant, record, space.uid, options));
  if (progress.state === 'running') return { health: { ...health, message: progress.message }, requeueAfterMs: 1000 };
  if (progress.state === 'failed') {
    const failed: Health = { state: 'progressing', reason: 'ExportFailed', message: `the export of space ${space.name} failed and is retried under the same id: ${progress.message}` };
    await ctx.recorder.warning(tenant, 'ExportFailed', failed.message);
    return { health: failed, requeueAfterMs: 10_000 };
  }
  await save(recordExported(record, space.uid, progress.result));
  await ctx.recorder.normal(tenant, 'Exported', `space ${space.name} exported to ${progress.result.location} (${progress.result.size} bytes, sha256 ${progress.result.sha256})`);
  return { health, requeueAfterMs: 1 };
}

/** Re-reads the space's archive from the target; only a match with the recorded digest lets the machine go on. */
async function performVerify(ctx: ControllerContext, options: TerminationOptions, tenant: Tenant, record: TerminationRecord, space: SpaceRecord, save: Save, health: Health): Promise<Outcome> {
  const request = exportRequest(tenant, record, space.uid, options);
  const progress = await options.runner.verify(request, space.location ?? '');
  if (progress.state === 'running') return { health: { ...health, message: progress.message }, requeueAfterMs: 1000 };
  if (progress.state === 'verified' && progress.sha256 === space.sha256 && progress.size === space.size) {
    await save(recordVerified(record, space.uid, progress.verifiedAt));
    await options.runner.cleanup?.(request);
    await ctx.recorder.normal(tenant, 'ExportVerified', `the export of space ${space.name} at ${space.location} was re-read and matches its digests (${progress.size} bytes, sha256 ${progress.sha256})`);
    return { health, requeueAfterMs: 1 };
  }
  // Not what was exported: export again under the same id (the same archive name), never go on.
  const why = progress.state === 'failed' ? progress.message : `read back ${progress.size} bytes with sha256 ${progress.sha256}, but ${space.size} bytes with sha256 ${space.sha256} were recorded`;
  const { location: _l, size: _s, sha256: _h, exportedAt: _e, ...unexported } = space;
  // What made and checked this export goes first (a finished Job would hand back the same result);
  // a crash before the save below only repeats the verification.
  await options.runner.cleanup?.(request);
  await save({ ...record, phase: 'Exporting', spaces: record.spaces.map((s) => (s.uid === space.uid ? unexported : s)) });
  const failed: Health = { state: 'progressing', reason: 'ExportVerificationFailed', message: `the export of space ${space.name} did not verify and is made again: ${why}` };
  await ctx.recorder.warning(tenant, 'ExportVerificationFailed', failed.message);
  return { health: failed, requeueAfterMs: 5000 };
}

/** The runner's leftovers of every space's export (idempotent: what is gone already is skipped). */
async function cleanupExports(options: TerminationOptions, tenant: Tenant, record: TerminationRecord): Promise<void> {
  if (!options.runner.cleanup || !tenant.spec.contract?.exportTarget) return;
  for (const space of record.spaces) await options.runner.cleanup(exportRequest(tenant, record, space.uid, options));
}

/** Deletes `Kind/namespace/name` objects (deleteObject tolerates what is already gone). */
async function deleteAll(ctx: ControllerContext, objects: readonly string[]): Promise<void> {
  for (const object of objects) {
    const { ref, name, namespace } = parseObject(object);
    await deleteObject(ctx.client, ref, name, namespace);
  }
}

export async function runTermination(ctx: ControllerContext, sources: FactSources, options: TerminationOptions, tenant: Tenant, trigger: TerminationRecord['trigger']): Promise<ReconcileResult | undefined> {
  if (tenant.metadata.deletionTimestamp && !hasFinalizer(tenant, TENANT_FINALIZER)) return undefined;
  const namespace = ctx.settings.operatorNamespace;
  const name = recordName(tenant);
  let stored = await loadRecord(ctx, sources, tenant, trigger);
  const facts = await observeTermination(sources, tenant, stored.record, ctx.now());
  const step = nextStep(tenant, stored.record, facts);
  const log = ctx.logger.child({ tenant: tenant.metadata.name, phase: stored.record.phase, step: step.kind });
  const save = async (record: TerminationRecord) => {
    stored = await writeRecord(ctx.client, namespace, name, stored, record);
  };

  let health: Health = terminationHealth(stored.record, step);
  let requeueAfterMs: number | undefined;
  switch (step.kind) {
    case 'record':
      // Before anything is destroyed, whatever an export left outside the tenant's namespace goes
      // (an export waived half-way leaves a runner's relay in the provider's namespace otherwise).
      if (step.record.phase === 'Shredding' && stored.record.phase !== 'Shredding') await cleanupExports(options, tenant, step.record);
      await save(step.record);
      await ctx.recorder.normal(tenant, step.reason, step.message);
      log.info({ to: step.record.phase, reason: step.reason }, step.message);
      health = terminationHealth(step.record, step);
      requeueAfterMs = 1;
      break;
    case 'suspend':
      if (await deleteObject(ctx.client, K8S.NetworkPolicy, GATEWAY_INGRESS_POLICY, tenantNamespaceName(tenant))) {
        await ctx.recorder.normal(tenant, 'TerminationSuspending', 'suspending access before the export: client traffic is cut and every gateway is told to refuse endpoints and people');
      }
      if (facts.openSpaces.length > 0) health = { ...health, message: `${health.message}; waiting for the gateways of ${facts.openSpaces.join(', ')} to refuse access` };
      requeueAfterMs = 1000;
      break;
    case 'export':
      ({ health, requeueAfterMs } = await performExport(ctx, options, tenant, stored.record, step.space, save, health));
      break;
    case 'verify':
      ({ health, requeueAfterMs } = await performVerify(ctx, options, tenant, stored.record, step.space, save, health));
      break;
    case 'shred':
      // Written down first: a crash between the two leaves the record naming what the retry destroys.
      await save(recordDestroyed(stored.record, step.objects));
      await deleteAll(ctx, step.objects);
      await ctx.recorder.normal(tenant, 'CryptoShredding', `destroyed ${step.objects.length} Secret(s) of key material: ${step.objects.join(', ')}`);
      requeueAfterMs = 500;
      break;
    case 'delete': {
      // Spaces and endpoints first (their finalizers see the verified export), the namespace with the rest.
      await save(recordDestroyed(stored.record, step.objects));
      await deleteAll(ctx, [...step.objects].sort((a, b) => Number(a.startsWith('Namespace/')) - Number(b.startsWith('Namespace/'))));
      requeueAfterMs = 2000;
      break;
    }
    case 'stalled':
      await ctx.recorder.warning(tenant, step.reason, step.message);
      requeueAfterMs = 30_000;
      break;
    case 'done':
      break;
  }
  await report(ctx, tenant, stored.record, name, health);
  if (step.kind === 'done' && tenant.metadata.deletionTimestamp) {
    await removeFinalizer(ctx.client, API.Tenant, tenant, TENANT_FINALIZER);
    log.info('tenant released: termination done, record kept');
  }
  return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
}
