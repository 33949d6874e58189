/**
 * The way out for export Jobs. A tenant namespace denies all traffic in and out (desired.ts), so an
 * export or verify Job could not reach its S3 target. This NetworkPolicy opens, for the pods of one
 * export only (selected by their labels), exactly these: DNS to the cluster's resolver, the
 * operator's key service (an export Job gets the data key as the gateway does), and TCP to the port
 * of the target's endpoint — at any address, since the endpoint may be outside the
 * cluster as well as in it. Nothing else of the tenant's pods gains any egress. It is made with the
 * Job and deleted with it (and, at the latest, with the namespace).
 *
 * NetworkPolicy ports are matched after a Service's address translation, so for an in-cluster
 * endpoint this is the port the S3 pods listen on: such a Service should expose its target port.
 */
import type { ExportTarget } from '../../api/tenant.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { CLUSTER_DNS, keyServiceEgress, type KeyServiceLocation } from '../backupspace/desired.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../labels.ts';

/** AWS S3 of the region when no endpoint is named; an endpoint is always https:// (the CRD's rule). */
const HTTPS_PORT = 443;

export function exportEgressPolicyName(exportId: string): string {
  return `${exportId}-egress`;
}

/** Pure: the TCP port the target is reached on, or undefined for a target that is not reached over the network. */
export function targetPort(target: ExportTarget): number | undefined {
  const s3 = target.s3;
  if (!s3) return undefined;
  if (!s3.endpoint) return HTTPS_PORT;
  const url = new URL(s3.endpoint);
  return url.port === '' ? HTTPS_PORT : Number(url.port);
}

/**
 * Pure: the egress policy of one export's pods (`podLabels`, a subset of the Job pods' labels), or
 * undefined when it needs no network (a volume target, and no key service to ask for the data key).
 */
export function desiredExportEgress(namespace: string, exportId: string, component: string, podLabels: Record<string, string>, target: ExportTarget, keyService?: KeyServiceLocation): ApplyObject | undefined {
  const port = targetPort(target);
  if (port === undefined && !keyService) return undefined;
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
        // No `to`: any address, only this port.
        ...(port === undefined ? [] : [{ ports: [{ protocol: 'TCP', port }] }]),
        // An export Job gets the provider's data key as the gateway does (hardening item 10).
        ...(keyService ? [keyServiceEgress(keyService)] : []),
      ],
    },
  };
}
