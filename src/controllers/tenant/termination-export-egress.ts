/**
 * The way out for export Jobs. A tenant namespace denies all traffic in and out (desired.ts), so an
 * export or verify Job could not reach its target. This NetworkPolicy opens, for the pods of one
 * export only (selected by their labels), exactly these: DNS to the cluster's resolver, the
 * operator's key service (an export Job gets the data key as the gateway does), and TCP to one port
 * of the destination — for an S3 endpoint at any address, since it may be outside the cluster as
 * well as in it; for a claim target only the relay's receiver pods of that export
 * (termination-export-relay.ts). Nothing else of the tenant's pods gains any egress. It is made with
 * the Job and deleted with it (and, at the latest, with the namespace).
 *
 * NetworkPolicy ports are matched after a Service's address translation, so for an in-cluster
 * endpoint this is the port the S3 pods listen on: such a Service should expose its target port.
 */
import type { V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { ExportTarget } from '../../api/tenant.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { CLUSTER_DNS, keyServiceEgress, type KeyServiceLocation } from '../backupspace/desired.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../labels.ts';

/** AWS S3 of the region when no endpoint is named; an endpoint is always https:// (the CRD's rule). */
const HTTPS_PORT = 443;

export function exportEgressPolicyName(exportId: string): string {
  return `${exportId}-egress`;
}

/** Where export pods may connect: one TCP port, at `to` (absent: any address). */
export interface EgressDestination {
  port: number;
  to?: V1NetworkPolicyPeer[];
}

/** Pure: the TCP port an S3 target is reached on, or undefined for a target that is not an S3 endpoint. */
export function targetPort(target: ExportTarget): number | undefined {
  const s3 = target.s3;
  if (!s3) return undefined;
  if (!s3.endpoint) return HTTPS_PORT;
  const url = new URL(s3.endpoint);
  return url.port === '' ? HTTPS_PORT : Number(url.port);
}

/** Pure: an S3 target's destination (its port, anywhere), or undefined for another target. */
export function s3Destination(target: ExportTarget): EgressDestination | undefined {
  const port = targetPort(target);
  return port === undefined ? undefined : { port };
}

/**
 * Pure: the egress policy of one export's pods (`podLabels`, a subset of the Job pods' labels), or
 * undefined when they need no network (no destination, as for a verify Job beside its claim, and no
 * key service to ask for the data key).
 */
export function desiredExportEgress(namespace: string, exportId: string, component: string, podLabels: Record<string, string>, destination: EgressDestination, keyService?: KeyServiceLocation): ApplyObject;
export function desiredExportEgress(namespace: string, exportId: string, component: string, podLabels: Record<string, string>, destination: EgressDestination | undefined, keyService?: KeyServiceLocation): ApplyObject | undefined;
export function desiredExportEgress(namespace: string, exportId: string, component: string, podLabels: Record<string, string>, destination: EgressDestination | undefined, keyService?: KeyServiceLocation): ApplyObject | undefined {
  if (destination === undefined && !keyService) return undefined;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: exportEgressPolicyName(exportId), namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: component } },
    spec: {
      podSelector: { matchLabels: { ...podLabels } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': CLUSTER_DNS.namespace } }, podSelector: { matchLabels: { ...CLUSTER_DNS.podLabels } } }],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        },
        // Without `to`: any address, only this port.
        ...(destination ? [{ ...(destination.to ? { to: destination.to } : {}), ports: [{ protocol: 'TCP', port: destination.port }] }] : []),
        // An export Job gets the provider's data key as the gateway does (hardening item 10).
        ...(keyService ? [keyServiceEgress(keyService)] : []),
      ],
    },
  };
}
