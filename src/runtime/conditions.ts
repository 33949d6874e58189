/**
 * Status conditions following kstatus, so `kubectl wait --for=condition=Ready`, Flux and Argo CD read
 * every object of this API the same way:
 *   Ready        True when the object is fully reconciled and working.
 *   Reconciling  True while the controller is making progress (absent otherwise).
 *   Stalled      True when it cannot progress without the user fixing something (absent otherwise).
 * Pure functions: the same input gives the same conditions, and lastTransitionTime only moves when a
 * condition's status changes, so an unchanged object is never re-patched.
 */
import type { Condition } from '../api/types.ts';
import type { KubeObject as KubeObjectLike } from './object.ts';

export type { Condition };

export type ConditionStatus = Condition['status'];

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, generation: number | undefined, now: Date): Condition[] {
  const existing = findCondition(conditions, input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: existing && existing.status === input.status ? existing.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    reason: input.reason,
    message: input.message,
  };
  const others = (conditions ?? []).filter((c) => c.type !== input.type);
  return [...others, next].sort((a, b) => conditionOrder(a.type) - conditionOrder(b.type) || a.type.localeCompare(b.type));
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

function conditionOrder(type: string): number {
  return ['Ready', 'Reconciling', 'Stalled'].indexOf(type) >>> 0;
}

/** The overall health of an object, which decides its kstatus conditions. */
export type Health =
  | { state: 'ready'; reason: string; message: string }
  | { state: 'progressing'; reason: string; message: string }
  | { state: 'stalled'; reason: string; message: string };

export function healthConditions(conditions: readonly Condition[] | undefined, health: Health, generation: number | undefined, now: Date): Condition[] {
  const { reason, message } = health;
  let result = setCondition(conditions, { type: 'Ready', status: health.state === 'ready' ? 'True' : 'False', reason, message }, generation, now);
  result = health.state === 'progressing'
    ? setCondition(result, { type: 'Reconciling', status: 'True', reason, message }, generation, now)
    : removeCondition(result, 'Reconciling');
  result = health.state === 'stalled'
    ? setCondition(result, { type: 'Stalled', status: 'True', reason, message }, generation, now)
    : removeCondition(result, 'Stalled');
  return result;
}

/**
 * The Stalled condition to raise as a Warning Event: the one in `after`, when `before` did not say the
 * same (newly stalled, or stalled for another reason). A status written again unchanged raises none.
 */
export function newlyStalled(before: readonly Condition[] | undefined, after: readonly Condition[] | undefined): Condition | undefined {
  const now = findCondition(after, 'Stalled');
  if (now?.status !== 'True') return undefined;
  const previous = findCondition(before, 'Stalled');
  return previous?.status === 'True' && previous.reason === now.reason && previous.message === now.message ? undefined : now;
}

/** Records a Warning Event with the Stalled condition's reason and message when the object newly stalled. */
export async function warnIfNewlyStalled(
  ctx: { recorder: { warning(object: KubeObjectLike, reason: string, note: string): Promise<void> } },
  object: KubeObjectLike,
  before: readonly Condition[] | undefined,
  after: readonly Condition[] | undefined,
): Promise<void> {
  const stalled = newlyStalled(before, after);
  if (stalled) await ctx.recorder.warning(object, stalled.reason, stalled.message);
}
