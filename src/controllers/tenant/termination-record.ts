/**
 * The termination record: a ConfigMap in the operator's namespace that is at once the state machine's
 * memory and the evidence a provider shows an auditor (what was exported where with which digest,
 * what was destroyed when, what was waived). It is not owned by the Tenant, so it outlives it, and it
 * holds no secret. Every write carries the resourceVersion it was read at: two operators (an old
 * leader still finishing a reconcile, a new one) can never both move the machine.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Tenant } from '../../api/types.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { isConflict, isNotFound } from '../../runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath } from '../../runtime/kube/resource-ref.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../labels.ts';
import { TemporaryError } from '../../runtime/controller.ts';
import type { SpaceRecord, TerminationPhase, TerminationRecord } from './termination.ts';

export const RECORD_KEY = 'record.json';
export const RECORD_LABEL = 'tenantbackup.io/record';
export const RECORD_KIND = 'termination';
const PHASE_ANNOTATION = 'tenantbackup.io/termination-phase';

/**
 * One record per tenant object: named by the tenant and its uid, so a later tenant of the same name
 * starts its own record and never inherits a finished one.
 */
export function recordName(tenant: Pick<Tenant, 'metadata'>): string {
  const name = tenant.metadata.name ?? '';
  return `termination-${name}-${(tenant.metadata.uid ?? '').slice(0, 8)}`;
}

export interface StoredRecord {
  record: TerminationRecord;
  resourceVersion: string;
}

export function recordConfigMap(name: string, namespace: string, record: TerminationRecord, resourceVersion?: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: record.tenant.name, [RECORD_LABEL]: RECORD_KIND },
      annotations: { [PHASE_ANNOTATION]: record.phase },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: { [RECORD_KEY]: `${JSON.stringify(record, null, 2)}\n` },
  };
}

const PHASES: readonly TerminationPhase[] = ['Suspending', 'Exporting', 'Verifying', 'Shredding', 'Deleting', 'Done'];

function isSpaceRecord(value: unknown): value is SpaceRecord {
  const s = value as Partial<SpaceRecord> | null;
  return typeof s === 'object' && s !== null && typeof s.uid === 'string' && typeof s.name === 'string' && typeof s.exportId === 'string';
}

/** Reads a record back; a ConfigMap edited into something else is an error that names what is wrong. */
export function parseRecord(configMap: V1ConfigMap): TerminationRecord {
  const where = `termination record ConfigMap ${configMap.metadata?.namespace}/${configMap.metadata?.name}`;
  const text = configMap.data?.[RECORD_KEY];
  if (text === undefined) throw new Error(`${where} has no ${RECORD_KEY}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${where}: ${RECORD_KEY} is not JSON`);
  }
  const record = parsed as Partial<TerminationRecord>;
  if (record.version !== 1) throw new Error(`${where}: version must be 1`);
  if (!record.phase || !PHASES.includes(record.phase)) throw new Error(`${where}: phase must be one of ${PHASES.join(', ')}`);
  if (!record.tenant || typeof record.tenant.uid !== 'string') throw new Error(`${where}: tenant.uid is missing`);
  if (!Array.isArray(record.spaces) || !record.spaces.every(isSpaceRecord)) throw new Error(`${where}: spaces must be a list of {name, uid, exportId}`);
  if (!record.destroyed || !Array.isArray(record.destroyed.keyIds) || !Array.isArray(record.destroyed.objects)) throw new Error(`${where}: destroyed must have keyIds and objects`);
  return record as TerminationRecord;
}

/** The record, read from the API server (not a cache: the machine must move from what is stored). */
export async function readRecord(client: KubeClient, namespace: string, name: string): Promise<StoredRecord | undefined> {
  try {
    const configMap = await client.request<V1ConfigMap>({ method: 'GET', path: objectPath(K8S.ConfigMap, name, namespace) });
    return { record: parseRecord(configMap), resourceVersion: configMap.metadata?.resourceVersion ?? '' };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Creates the record; if another writer made it first, theirs is the one (returned). */
export async function createRecord(client: KubeClient, namespace: string, name: string, record: TerminationRecord): Promise<StoredRecord> {
  try {
    const created = await client.request<V1ConfigMap>({ method: 'POST', path: collectionPath(K8S.ConfigMap, namespace), body: recordConfigMap(name, namespace, record) });
    return { record, resourceVersion: created.metadata?.resourceVersion ?? '' };
  } catch (error) {
    if (!isConflict(error)) throw error;
    const existing = await readRecord(client, namespace, name);
    if (!existing) throw new TemporaryError(`termination record ${namespace}/${name} was made and removed meanwhile`, 500);
    return existing;
  }
}

/**
 * Replaces the record if it is still at `stored.resourceVersion`; a conflict (someone moved it) is a
 * temporary error, so the reconcile starts over from what is stored now.
 */
export async function writeRecord(client: KubeClient, namespace: string, name: string, stored: StoredRecord, record: TerminationRecord): Promise<StoredRecord> {
  try {
    const updated = await client.request<V1ConfigMap>({ method: 'PUT', path: objectPath(K8S.ConfigMap, name, namespace), body: recordConfigMap(name, namespace, record, stored.resourceVersion) });
    return { record, resourceVersion: updated.metadata?.resourceVersion ?? '' };
  } catch (error) {
    if (isConflict(error)) throw new TemporaryError(`termination record ${namespace}/${name} changed since it was read; starting over from the stored one`, 200);
    throw error;
  }
}
