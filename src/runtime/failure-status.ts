/**
 * What a reconcile that throws leaves in the object's status, so kstatus (Flux, Argo CD, `kubectl
 * wait`) reads it as InProgress: without it, an object whose reconcile fails before its first status
 * write has no status at all, which kstatus reads as Current. Every thrown error is retried with
 * backoff (what retrying cannot fix is reported as Stalled by the reconciler, not thrown), so the
 * conditions say Reconciling=True and Ready=False with reason ReconcileError; the controller's other
 * conditions and status.observedGeneration stay as they were, and the next successful reconcile's
 * status (computed with healthConditions) replaces them. The message is redacted like a log line.
 */
import type { Logger } from 'pino';
import { isDeepStrictEqual } from 'node:util';
import type { Condition } from '../api/types.ts';
import { redactText } from '../log/redact.ts';
import { FIELD_MANAGER } from './apply.ts';
import { findCondition, healthConditions } from './conditions.ts';
import { CONTENT_TYPE, type KubeClient } from './kube/client.ts';
import { isConflict, isNotFound } from './kube/errors.ts';
import { apiVersionOf, objectPath, type ResourceRef } from './kube/resource-ref.ts';
import type { KubeObject } from './object.ts';

export const RECONCILE_ERROR = 'ReconcileError';

/** Condition messages stay readable in `kubectl describe`; the log line has the rest. */
const MAX_MESSAGE = 1024;

export interface StatusWithConditions {
  conditions?: Condition[];
  [field: string]: unknown;
}

/** The error's message as a condition may show it: redacted, bounded, one line. */
export function failureMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const redacted = redactText(text).replace(/\s+/g, ' ').trim();
  const message = `reconcile failed; retrying: ${redacted || 'unknown error'}`;
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

/**
 * The status after a failed reconcile: the current one with Reconciling=True and Ready=False
 * (ReconcileError) set, Stalled cleared (the error is being retried), everything else kept.
 */
export function failedStatus(current: StatusWithConditions | undefined, error: unknown, generation: number | undefined, now: Date): StatusWithConditions {
  const health = { state: 'progressing', reason: RECONCILE_ERROR, message: failureMessage(error) } as const;
  return { ...current, conditions: healthConditions(current?.conditions, health, generation, now) };
}

/** Only the messages differ: the same failure said in other words (a changing address, a count). */
function onlyMessagesDiffer(before: StatusWithConditions | undefined, after: StatusWithConditions): boolean {
  const strip = (status: StatusWithConditions | undefined) => ({ ...status, conditions: (status?.conditions ?? []).map(({ message: _message, ...rest }) => rest) });
  return isDeepStrictEqual(strip(before), strip(after));
}

/**
 * Whether a failure that only rewords the previous one is written: on the 1st, 2nd, 4th, 8th… retry.
 * A status write is itself a watch event that requeues the key at once, so a message that changes
 * on every attempt would otherwise retry without backoff.
 */
export function rewordingWritten(retries: number): boolean {
  return retries <= 1 || (retries & (retries - 1)) === 0;
}

interface StatusObject extends KubeObject {
  metadata: KubeObject['metadata'] & { generation?: number };
  status?: StatusWithConditions;
}

export interface FailureStatusTarget {
  client: Pick<KubeClient, 'request'>;
  ref: ResourceRef;
}

function nameOf(ref: ResourceRef, key: string): { name: string; namespace?: string } {
  if (!ref.namespaced) return { name: key };
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** A failed reconcile, as reportFailure records it. */
export interface Failure {
  key: string;
  error: unknown;
  /** Failures of this key in a row so far. */
  retries: number;
  /**
   * Only for an object that reports no Ready condition yet: for the brief retries of contention (a
   * conflict, a TemporaryError), after which a reported status is still the last word and flipping
   * Ready for a few milliseconds would only make health checks flap.
   */
  unlessReported?: boolean;
}

/**
 * Writes the failed status of the object `key` names. Read fresh and applied under its
 * resourceVersion with the controllers' own field manager (server-side apply on the status
 * subresource): a newer status is never overwritten (409), and the controller's next apply, which
 * omits Reconciling, removes it. Never throws: a failure to report a failure is logged, not retried.
 */
export async function reportFailure(target: FailureStatusTarget, failure: Failure, logger: Logger, now: Date): Promise<void> {
  const { client, ref } = target;
  const { key, error, retries } = failure;
  const { name, namespace } = nameOf(ref, key);
  try {
    const current = await client.request<StatusObject>({ method: 'GET', path: objectPath(ref, name, namespace) });
    if (failure.unlessReported && findCondition(current.status?.conditions, 'Ready')) return;
    const status = failedStatus(current.status, error, current.metadata.generation, now);
    if (isDeepStrictEqual(current.status, status)) return;
    const sameFailure = findCondition(current.status?.conditions, 'Reconciling')?.reason === RECONCILE_ERROR && onlyMessagesDiffer(current.status, status);
    if (sameFailure && !rewordingWritten(retries)) return;
    await client.request({
      method: 'PATCH',
      path: objectPath(ref, name, namespace, 'status'),
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: { apiVersion: apiVersionOf(ref), kind: ref.kind, metadata: { name, ...(namespace ? { namespace } : {}), resourceVersion: current.metadata.resourceVersion }, status },
      contentType: CONTENT_TYPE.apply,
    });
  } catch (writeError) {
    const err = redactText(writeError instanceof Error ? writeError.message : String(writeError));
    // Gone, or changed since it was read (its newer status wins): nothing to correct.
    if (isNotFound(writeError) || isConflict(writeError)) logger.debug({ object: key, err }, 'failed reconcile not recorded in status: the object is gone or changed');
    else logger.warn({ object: key, err }, 'could not record the failed reconcile in status');
  }
}
