/**
 * Gateway pod settings in three layers — built-in defaults ← the operator's (chart value `gateway`,
 * flag --gateway-workload) ← the space's Datacenter (spec.gateway) — and what they put on the
 * gateway Deployment, as pure functions. The operator's own labels always win over settings (the
 * schema refuses them too): the Deployment's selector and every Service, policy and budget of the
 * space select the pods by them.
 */
import { createHash } from 'node:crypto';
import type { GatewayWorkload } from '../../api/gateway-workload.ts';

/**
 * Sized from the gateway benchmark (src/gateway/README.md, "Performance"; `npm run bench -- gateway`):
 * idle RSS about 107 MiB after a repository is opened, peak 142–150 MiB while restic uploads at
 * 160 MiB/s, flat with the data's size; about 0.45 cpu at that rate (2.78 CPU-s/GiB). So memory
 * requests about idle and limits about twice the peak; cpu requests a slice and may burst to one
 * core. Within the tenant namespaces' LimitRange (CONTAINER_MAX).
 */
export const DEFAULT_GATEWAY_WORKLOAD: GatewayWorkload = {
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '320Mi' } },
};

/**
 * Later layers over earlier ones: resources (requests and limits together, so a request never meets
 * a lower layer's smaller limit), priorityClassName, tolerations and topologySpreadConstraints
 * replace; podLabels and podAnnotations merge key by key.
 */
export function mergeGatewayWorkload(...layers: (GatewayWorkload | undefined)[]): GatewayWorkload {
  let merged: GatewayWorkload = {};
  for (const layer of layers) {
    if (!layer) continue;
    const { podLabels, podAnnotations, ...replaced } = layer;
    merged = {
      ...merged,
      ...Object.fromEntries(Object.entries(replaced).filter(([, value]) => value !== undefined)),
      ...(podLabels ? { podLabels: { ...merged.podLabels, ...podLabels } } : {}),
      ...(podAnnotations ? { podAnnotations: { ...merged.podAnnotations, ...podAnnotations } } : {}),
    };
  }
  return merged;
}

export interface GatewayPodFields {
  /** The pod template's labels: the settings' under the operator's, which win. */
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  /** Fields of the pod spec (only those that are set). */
  spec: { priorityClassName?: string; tolerations?: unknown[]; topologySpreadConstraints?: unknown[] };
  resources: GatewayWorkload['resources'];
}

/** What the settings put on the gateway pods of one space; `selector` selects that space's gateway pods. */
export function gatewayPodFields(workload: GatewayWorkload, operatorLabels: Record<string, string>, selector: Record<string, string>): GatewayPodFields {
  const { podLabels, podAnnotations, priorityClassName, tolerations, topologySpreadConstraints, resources } = workload;
  return {
    labels: { ...podLabels, ...operatorLabels },
    ...(podAnnotations && Object.keys(podAnnotations).length > 0 ? { annotations: { ...podAnnotations } } : {}),
    spec: {
      ...(priorityClassName ? { priorityClassName } : {}),
      ...(tolerations?.length ? { tolerations } : {}),
      // Each constraint counts the space's own gateway pods: a Datacenter's settings cannot name them.
      ...(topologySpreadConstraints?.length ? { topologySpreadConstraints: topologySpreadConstraints.map((c) => ({ ...c, labelSelector: { matchLabels: { ...selector } } })) } : {}),
    },
    resources: resources && textQuantities(resources),
  };
}

/** Quantities as the API server stores them, strings (`cpu: 2` reads back "2"), so the apply check sees them equal. */
function textQuantities(resources: NonNullable<GatewayWorkload['resources']>): NonNullable<GatewayWorkload['resources']> {
  const text = (list: Record<string, string | number>) => Object.fromEntries(Object.entries(list).map(([name, value]) => [name, String(value)]));
  return { ...(resources.requests ? { requests: text(resources.requests) } : {}), ...(resources.limits ? { limits: text(resources.limits) } : {}) };
}

/**
 * A digest of the merged settings, kept on the Deployment: the operator applies only when what it
 * wants is not already there, so a setting that was removed (a toleration, a label) would otherwise
 * never be dropped; a new digest makes the apply happen, and server-side apply drops it.
 */
export function gatewayWorkloadDigest(workload: GatewayWorkload): string {
  return createHash('sha256').update(canonicalJson(workload)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
