/**
 * The relay that lets an export Job write to a claim of another namespace (a pod mounts only claims
 * of its own): in the claim's namespace a receiver Job mounts it read-write and runs `receive-export`
 * behind a Service, with a certificate for the Service's name issued by the operator's CA and a
 * random token in one Secret; the export Job in the tenant's namespace sends the archive there
 * (`export --http-target`) with a copy of the CA and token; the verify Job then runs in the claim's
 * namespace too, mounting the claim read-only, so the verification is a fresh re-read of the file.
 *
 * Two NetworkPolicies keep the path narrow: the export pod's egress (termination-export-egress.ts)
 * opens to this export's receiver pods and port only, and an ingress policy in the claim's namespace
 * admits to the receiver only this export's pod of that tenant namespace.
 *
 * Pure functions of the request; every name comes from the export id, so a restarted operator finds
 * (and never duplicates) what an earlier attempt made.
 */
import type { V1Affinity, V1Job, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { Datacenter } from '../../api/types.ts';
import { archiveName } from '../../export/names.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { controllerReference, type KubeObject } from '../../runtime/object.ts';
import { base64 } from '../../runtime/kube/secrets.ts';
import type { TlsMaterial } from '../../pki/tls-secret.ts';
import { tlsSecretData, TLS_SECRET_TYPE } from '../../pki/tls-secret.ts';
import { COMPONENT_LABEL, COUNTRY_LABEL, MANAGED_BY, MANAGED_BY_LABEL, SPACE_LABEL, TENANT_LABEL } from '../labels.ts';
import type { EgressDestination } from './termination-export-egress.ts';
import { EXPORT_COMPONENT, EXPORT_ID_LABEL, toolJob } from './termination-job-spec.ts';
import type { ExportRequest } from './termination-runner.ts';

export const RECEIVER_COMPONENT = 'export-receiver';
export const RECEIVER_PORT = 8443;
/** In the export pod: the relay Secret's copy (ca.crt, token). */
export const RELAY_DIR = '/etc/export-relay';
const RECEIVER_SECRET_DIR = '/etc/export-receiver';
/** Where the receiver and the verifier mount the target claim. */
export const CLAIM_DIR = '/export';
const TOKEN_KEY = 'token';

export interface ClaimTarget {
  namespace: string;
  claimName: string;
}

export function claimOf(request: ExportRequest): ClaimTarget {
  const claim = request.target.persistentVolumeClaim;
  if (!claim) throw new Error('spec.contract.exportTarget.persistentVolumeClaim: not a claim target');
  return claim;
}

/** Every object of one export's relay, named by its export id. */
export function relayNames(exportId: string) {
  return {
    /** In the claim's namespace. */
    receiverJob: `receive-${exportId}`,
    verifyJob: `verify-${exportId}`,
    service: `${exportId}-receiver`,
    receiverSecret: `${exportId}-receiver`,
    ingressPolicy: `${exportId}-receiver-ingress`,
    /** In the tenant's namespace: the CA and token the export Job presents. */
    relaySecret: `${exportId}-relay`,
  };
}

/** Where a claim is, as the record and status name it: `pvc://<namespace>/<claim>`. */
export function claimLocation(claim: ClaimTarget): string {
  return `pvc://${claim.namespace}/${claim.claimName}`;
}

/** Splits `pvc://<namespace>/<claim>/<archive>`; null when `location` is not one. */
export function parseClaimLocation(location: string): { namespace: string; claimName: string; archive: string } | null {
  const match = /^pvc:\/\/([a-z0-9-]+)\/([a-z0-9.-]+)\/([^/]+)$/.exec(location);
  return match === null ? null : { namespace: match[1] as string, claimName: match[2] as string, archive: match[3] as string };
}

/** Names the receiver's certificate carries: its Service, as short and as full as a client may say it. */
export function receiverDnsNames(exportId: string, namespace: string): string[] {
  const service = relayNames(exportId).service;
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export function receiverUrl(exportId: string, namespace: string): string {
  return `https://${relayNames(exportId).service}.${namespace}.svc:${RECEIVER_PORT}/`;
}

/** Labels of the export's pods in the tenant's namespace (the Job's own labels include these). */
export function exportPodSelector(exportId: string): Record<string, string> {
  return { [COMPONENT_LABEL]: EXPORT_COMPONENT, [EXPORT_ID_LABEL]: exportId };
}

export function receiverSelector(exportId: string): Record<string, string> {
  return { [COMPONENT_LABEL]: RECEIVER_COMPONENT, [EXPORT_ID_LABEL]: exportId };
}

/** On every relay object: whose it is, so that a listing of the tenant's objects finds them. */
function relayLabels(request: ExportRequest, component: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: component, [EXPORT_ID_LABEL]: request.space.exportId, [TENANT_LABEL]: request.tenant, [SPACE_LABEL]: request.space.name };
}

/**
 * The data stays in its country (S7): a claim bound on first use (WaitForFirstConsumer) is bound
 * where its first pod runs, so the receiver is held to nodes of the space's datacenter's country.
 */
function countryAffinity(datacenter: Datacenter): V1Affinity {
  return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: COUNTRY_LABEL, operator: 'In', values: [datacenter.spec.country] }] }] } } };
}

/** Pure: the receiver's Secret: its serving certificate (with the CA) and the token senders present. */
export function desiredReceiverSecret(request: ExportRequest, tls: TlsMaterial, token: string): ApplyObject {
  const claim = claimOf(request);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: relayNames(request.space.exportId).receiverSecret, namespace: claim.namespace, labels: relayLabels(request, RECEIVER_COMPONENT) },
    type: TLS_SECRET_TYPE,
    data: { ...tlsSecretData(tls), [TOKEN_KEY]: base64(token) },
  };
}

/** Pure: what the export Job in the tenant's namespace presents to the receiver: the CA and the token. */
export function desiredRelaySecret(request: ExportRequest, caPem: string, token: string): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: relayNames(request.space.exportId).relaySecret, namespace: request.space.namespace, labels: relayLabels(request, EXPORT_COMPONENT) },
    type: 'Opaque',
    data: { 'ca.crt': base64(caPem), [TOKEN_KEY]: base64(token) },
  };
}

/**
 * Pure: the receiver's Service, owned by the receiver Job (`receiverJob`, as stored) so that the
 * garbage collector deletes it with the Job: the operator needs no right to delete Services.
 */
export function desiredReceiverService(request: ExportRequest, receiverJob: KubeObject): ApplyObject {
  const claim = claimOf(request);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: relayNames(request.space.exportId).service,
      namespace: claim.namespace,
      labels: relayLabels(request, RECEIVER_COMPONENT),
      // Not blocking: that would need update on jobs/finalizers where OwnerReferencesPermissionEnforcement is on.
      ownerReferences: [{ ...controllerReference(receiverJob), blockOwnerDeletion: false }],
    },
    // The Service's port is the pod's: NetworkPolicies match ports after the Service's translation.
    spec: { selector: receiverSelector(request.space.exportId), ports: [{ name: 'https', port: RECEIVER_PORT, targetPort: RECEIVER_PORT, protocol: 'TCP' }] },
  };
}

/** Pure: the receiver Job, in the claim's namespace, mounting the claim read-write. */
export function desiredReceiverJob(request: ExportRequest, datacenter: Datacenter, image: string): V1Job {
  const claim = claimOf(request);
  const names = relayNames(request.space.exportId);
  return toolJob({
    name: names.receiverJob,
    namespace: claim.namespace,
    labels: { ...relayLabels(request, RECEIVER_COMPONENT), ...receiverSelector(request.space.exportId) },
    image,
    container: 'receive',
    args: ['receive-export', '--dir', CLAIM_DIR, '--location', claimLocation(claim), '--listen', `:${RECEIVER_PORT}`, '--archive', archiveName(request.tenant, request.space.name, request.space.exportId),
      '--tls-cert-file', `${RECEIVER_SECRET_DIR}/tls.crt`, '--tls-key-file', `${RECEIVER_SECRET_DIR}/tls.key`, '--token-file', `${RECEIVER_SECRET_DIR}/${TOKEN_KEY}`],
    ports: [{ name: 'https', containerPort: RECEIVER_PORT, protocol: 'TCP' }],
    // Ready once it listens: the operator starts the exporter only then.
    readinessProbe: { tcpSocket: { port: RECEIVER_PORT }, periodSeconds: 2 },
    mounts: [{ name: 'claim', mountPath: CLAIM_DIR }, { name: 'receiver', mountPath: RECEIVER_SECRET_DIR, readOnly: true }],
    volumes: [
      { name: 'claim', persistentVolumeClaim: { claimName: claim.claimName } },
      { name: 'receiver', secret: { secretName: names.receiverSecret, defaultMode: 0o440, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }, { key: TOKEN_KEY, path: TOKEN_KEY }] } },
    ],
    affinity: countryAffinity(datacenter),
  });
}

/** Pure: the verify Job, in the claim's namespace, re-reading the archive from the claim mounted read-only. */
export function desiredClaimVerifyJob(request: ExportRequest, datacenter: Datacenter, image: string, archive: string): V1Job {
  const claim = claimOf(request);
  const names = relayNames(request.space.exportId);
  return toolJob({
    name: names.verifyJob,
    namespace: claim.namespace,
    labels: relayLabels(request, EXPORT_COMPONENT),
    image,
    container: 'verify',
    args: ['verify-export', `${CLAIM_DIR}/${archive}`],
    mounts: [{ name: 'claim', mountPath: CLAIM_DIR, readOnly: true }],
    volumes: [{ name: 'claim', persistentVolumeClaim: { claimName: claim.claimName, readOnly: true } }],
    affinity: countryAffinity(datacenter),
  });
}

/** Pure: the only way in to the receiver: from this export's pod in the tenant's namespace, to its port. */
export function desiredReceiverIngress(request: ExportRequest): ApplyObject {
  const claim = claimOf(request);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: relayNames(request.space.exportId).ingressPolicy, namespace: claim.namespace, labels: relayLabels(request, RECEIVER_COMPONENT) },
    spec: {
      podSelector: { matchLabels: receiverSelector(request.space.exportId) },
      policyTypes: ['Ingress'],
      ingress: [{
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': request.space.namespace } }, podSelector: { matchLabels: exportPodSelector(request.space.exportId) } }],
        ports: [{ protocol: 'TCP', port: RECEIVER_PORT }],
      }],
    },
  };
}

/** Pure: where the export pod's egress must reach: the receiver pods of this export, on their port. */
export function relayDestination(request: ExportRequest): EgressDestination {
  const claim = claimOf(request);
  const to: V1NetworkPolicyPeer[] = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': claim.namespace } }, podSelector: { matchLabels: receiverSelector(request.space.exportId) } }];
  return { port: RECEIVER_PORT, to };
}

/** The export Job's target flags and what it mounts for them. */
export function relayExportArgs(request: ExportRequest): string[] {
  const claim = claimOf(request);
  return ['--http-target', receiverUrl(request.space.exportId, claim.namespace), '--http-ca-file', `${RELAY_DIR}/ca.crt`, '--http-token-file', `${RELAY_DIR}/${TOKEN_KEY}`];
}
