/** What every controller is given: the API, shared caches, events, logging and the operator's settings. */
import type { Logger } from 'pino';
import { applyObject, type ApplyObject } from '../runtime/apply.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { InformerFactory } from '../runtime/informer-factory.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ResourceRef } from '../runtime/kube/resource-ref.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import type { KubeObject } from '../runtime/object.ts';
import type { TenantSettings } from './tenant/desired.ts';

export type OperatorSettings = TenantSettings;

export interface ControllerContext {
  client: KubeClient;
  informers: InformerFactory;
  recorder: EventRecorder;
  logger: Logger;
  metrics?: RuntimeMetrics;
  settings: OperatorSettings;
  now: () => Date;
}

/**
 * True when every field of `desired` is present with the same value in `actual` (arrays element by
 * element): the object already looks as we want, so applying it would change nothing.
 */
export function containsDesired(actual: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null || typeof desired !== 'object') return actual === desired;
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((item, i) => containsDesired(actual[i], item));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  return Object.entries(desired).every(([key, value]) => containsDesired((actual as Record<string, unknown>)[key], value));
}

/**
 * Server-side applies `desired` unless the cached object already contains it (saving a request per
 * object on every resync). Returns true when a write was sent.
 */
export async function ensureApplied(ctx: ControllerContext, ref: ResourceRef, desired: ApplyObject, cached: KubeObject | undefined): Promise<boolean> {
  const { apiVersion: _apiVersion, kind: _kind, ...fields } = desired;
  if (cached && containsDesired(cached, fields)) return false;
  await applyObject(ctx.client, ref, desired);
  return true;
}
