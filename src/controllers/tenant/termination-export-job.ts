/**
 * The export as a Job (`--export-runner=job`): one Job per space and export id, in the space's
 * namespace (a pod can only mount a claim of its own namespace), pinned by the same node affinity as
 * the space's gateway so the data does not leave its datacenter except to the target the contract
 * names. It runs the operator image's `export` subcommand with the space's volume mounted read-only
 * and the key material as the gateway gets it (its configuration Secret). The Job's result — the one
 * JSON line `export` prints — reaches the operator explicitly: stdout goes to the container's
 * termination message, which the API server keeps in the finished pod's status. The archive is then
 * verified by a second Job (`verify-export`), so the verification is a fresh re-read from the target,
 * not the exporter's own word.
 *
 * S3 credentials live in the provider's namespace; the Job reads a copy in the tenant's namespace,
 * made for the export and deleted with the Job (and, at the latest, with the namespace). A claim of
 * the provider's namespace is reached through a relay (termination-export-relay.ts): a receiver Job
 * beside the claim, which the export Job sends the archive to, and the verify Job runs beside the
 * claim too.
 */
import { randomBytes } from 'node:crypto';
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Datacenter } from '../../api/types.ts';
import type { ExportTarget as ApiExportTarget } from '../../api/tenant.ts';
import { issueServingCertificate, type PemKeyPair } from '../../pki/certificates.ts';
import { applyObject, createObjectOnce, deleteObject, getObject } from '../../runtime/apply.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { listAll } from '../../runtime/kube/list.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { datacenterNodeSelectorTerm } from '../datacenter/nodes.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, SPACE_LABEL, spaceObjectNames } from '../labels.ts';
import { CONFIG_DIR, DATA_DIR, gatewaySelector, keyServiceArgs, keyTokenMount, keyTokenVolume, type KeyServiceLocation } from '../backupspace/desired.ts';
import { desiredExportEgress, exportEgressPolicyName, s3Destination, type EgressDestination } from './termination-export-egress.ts';
import {
  claimOf, desiredClaimVerifyJob, desiredReceiverIngress, desiredReceiverJob, desiredReceiverSecret, desiredReceiverService, desiredRelaySecret,
  exportPodSelector, parseClaimLocation, receiverDnsNames, relayDestination, relayExportArgs, relayNames, RELAY_DIR,
} from './termination-export-relay.ts';
import { EXPORT_COMPONENT, EXPORT_ID_LABEL, JOB, toolJob } from './termination-job-spec.ts';
import type { ExportProgress, ExportRequest, ExportRunner, VerifyProgress } from './termination-runner.ts';

export { EXPORT_COMPONENT, JOB } from './termination-job-spec.ts';
const CA_DIR = '/etc/export-ca';

export type JobPurpose = 'export' | 'verify';

export function exportJobName(exportId: string, purpose: JobPurpose): string {
  return `${purpose}-${exportId}`;
}

export function s3CredentialsCopyName(exportId: string): string {
  return `${exportId}-s3`;
}

/** How to reach the store: what both `export` and `verify-export` take. */
function connectionArgs(target: ApiExportTarget): string[] {
  const s3 = target.s3;
  if (!s3) return [];
  return ['--s3-region', s3.region, ...(s3.endpoint ? ['--s3-endpoint', s3.endpoint] : []), ...(s3.caBundle ? ['--s3-ca-file', `${CA_DIR}/ca.crt`] : [])];
}

function targetArgs(target: ApiExportTarget): string[] {
  return target.s3 ? ['--s3-bucket', target.s3.bucket, '--s3-prefix', target.s3.prefix ?? '', ...connectionArgs(target)] : [];
}

/** Pure: the Job that exports (or verifies) one space, in the space's namespace. */
export function desiredExportJob(request: ExportRequest, datacenter: Datacenter, image: string, purpose: JobPurpose, location?: string, keyService?: KeyServiceLocation): V1Job {
  const { space } = request;
  const names = spaceObjectNames(space.name);
  const s3 = request.target.s3;
  const relay = purpose === 'export' && request.target.persistentVolumeClaim !== undefined;
  const args = purpose === 'export'
    ? ['export', '--data-dir', DATA_DIR, '--config-dir', CONFIG_DIR, '--tenant', request.tenant, '--export-id', space.exportId, '--organization', request.organization, '--created', request.createdAt.toISOString(), ...(relay ? relayExportArgs(request) : targetArgs(request.target)), ...(keyService ? keyServiceArgs(keyService) : [])]
    : ['verify-export', location ?? '', ...connectionArgs(request.target)];
  const env = s3
    ? ['accessKeyId', 'secretAccessKey'].map((key) => ({
      name: key === 'accessKeyId' ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY',
      valueFrom: { secretKeyRef: { name: s3CredentialsCopyName(space.exportId), key } },
    }))
    : [];
  return toolJob({
    name: exportJobName(space.exportId, purpose),
    namespace: space.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: EXPORT_COMPONENT, [SPACE_LABEL]: space.name, [EXPORT_ID_LABEL]: space.exportId },
    image,
    container: purpose,
    args,
    env,
    // As the space's gateway: the key service hands a provider data key to that identity only.
    ...(purpose === 'export' && keyService ? { serviceAccountName: names.serviceAccount } : {}),
    affinity: {
      // The data stays in its datacenter and its country (S7): the same nodes as the space's gateway.
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [datacenterNodeSelectorTerm(datacenter)] } },
      // Beside a gateway replica when one runs: a ReadWriteOnce volume attaches to one node only.
      podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: gatewaySelector({ metadata: { name: space.name } }) }, topologyKey: 'kubernetes.io/hostname' } }] },
    },
    mounts: [
      ...(purpose === 'export' ? [{ name: 'config', mountPath: CONFIG_DIR, readOnly: true }, { name: 'data', mountPath: DATA_DIR, readOnly: true }] : []),
      ...(purpose === 'export' && keyService ? [keyTokenMount()] : []),
      ...(s3?.caBundle ? [{ name: 'ca', mountPath: CA_DIR, readOnly: true }] : []),
      ...(relay ? [{ name: 'relay', mountPath: RELAY_DIR, readOnly: true }] : []),
    ],
    volumes: [
      ...(purpose === 'export' ? [
        // ca.crt (the operator's CA) verifies the key service.
        { name: 'config', projected: { defaultMode: 0o440, sources: [{ secret: { name: names.configSecret } }, { secret: { name: names.tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } },
        { name: 'data', persistentVolumeClaim: { claimName: names.volume, readOnly: true } },
        ...(keyService ? [keyTokenVolume()] : []),
      ] : []),
      ...(s3?.caBundle ? [{ name: 'ca', secret: { secretName: s3CredentialsCopyName(space.exportId), items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
      ...(relay ? [{ name: 'relay', secret: { secretName: relayNames(space.exportId).relaySecret, defaultMode: 0o440 } }] : []),
    ],
  });
}

/** Pure: the JSON line `export` / `verify-export` printed (the termination message); undefined if none. */
export function parseResultLine(log: string): Record<string, unknown> | undefined {
  const lines = log.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{') && l.endsWith('}'));
  for (const line of lines.reverse()) {
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && typeof (value as { sha256?: unknown }).sha256 === 'string') return value as Record<string, unknown>;
    } catch {
      // A log line that merely looks like JSON.
    }
  }
  return undefined;
}

type JobState = { state: 'running' } | { state: 'failed'; message: string } | { state: 'succeeded'; log: string };

export interface JobRunnerOptions {
  client: KubeClient;
  image: string;
  operatorNamespace: string;
  datacenters: Informer<Datacenter>;
  /** The operator's CA: it issues the relay receiver's certificate (claim targets). */
  certificateAuthority: () => Promise<PemKeyPair>;
  /** Where the export Job gets a provider-custody space's data key. */
  keyService?: KeyServiceLocation;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function jobExportRunner(options: JobRunnerOptions): ExportRunner {
  const { client } = options;

  async function copyS3Secret(request: ExportRequest): Promise<void> {
    const s3 = request.target.s3;
    if (!s3) return;
    const source = await getObject<V1Secret>(client, K8S.Secret, s3.credentialsSecretRef.name, s3.credentialsSecretRef.namespace);
    if (!secretField(source, 'accessKeyId') || !secretField(source, 'secretAccessKey')) {
      throw new Error(`spec.contract.exportTarget.s3.credentialsSecretRef: Secret ${s3.credentialsSecretRef.namespace}/${s3.credentialsSecretRef.name} must exist with keys accessKeyId and secretAccessKey`);
    }
    const data: Record<string, string> = { accessKeyId: source?.data?.accessKeyId ?? '', secretAccessKey: source?.data?.secretAccessKey ?? '' };
    const ca = s3.caBundle;
    if (ca?.secretRef) data['ca.crt'] = (await getObject<V1Secret>(client, K8S.Secret, ca.secretRef.name, ca.secretRef.namespace))?.data?.[ca.secretRef.key ?? 'ca.crt'] ?? '';
    if (ca?.configMapRef) {
      const pem = (await getObject<{ data?: Record<string, string> }>(client, K8S.ConfigMap, ca.configMapRef.name, ca.configMapRef.namespace))?.data?.[ca.configMapRef.key ?? 'ca.crt'] ?? '';
      data['ca.crt'] = Buffer.from(pem).toString('base64');
    }
    await createObjectOnce(client, K8S.Secret, request.space.namespace, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: s3CredentialsCopyName(request.space.exportId), namespace: request.space.namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: EXPORT_COMPONENT } },
      type: 'Opaque',
      data,
    });
  }

  /** A Job's state; a failed one is deleted (made again by the next call); undefined when there is none. */
  async function jobState(name: string, namespace: string, container: string): Promise<JobState | undefined> {
    const job = await getObject<V1Job>(client, JOB, name, namespace);
    if (!job) return undefined;
    const conditions = job.status?.conditions ?? [];
    if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) {
      await deleteObject(client, JOB, name, namespace);
      return { state: 'failed', message: `Job ${namespace}/${name} failed: ${conditions.find((c) => c.type === 'Failed')?.message ?? 'no message'}; it is made again` };
    }
    if (!conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return { state: 'running' };
    const pods = await listAll<V1Pod & KubeObject>(client, K8S.Pod, { namespace, labelSelector: `job-name=${name}` });
    const succeeded = pods.items.find((p) => p.status?.phase === 'Succeeded');
    if (!succeeded) return { state: 'running' };
    const message = succeeded.status?.containerStatuses?.find((c) => c.name === container)?.state?.terminated?.message ?? '';
    return { state: 'succeeded', log: message };
  }

  function datacenterOf(request: ExportRequest): Datacenter | undefined {
    return options.datacenters.get(request.space.datacenter);
  }

  const noDatacenter = (request: ExportRequest) => ({ state: 'failed' as const, message: `datacenter ${request.space.datacenter} of space ${request.space.name} does not exist; the export must run in it` });

  /** Starts (or polls) the Job of `purpose` in the space's namespace; for S3, with its credentials copy and egress. */
  async function runSpaceJob(request: ExportRequest, purpose: JobPurpose, destination: EgressDestination | undefined, location?: string): Promise<JobState> {
    const name = exportJobName(request.space.exportId, purpose);
    const namespace = request.space.namespace;
    const state = await jobState(name, namespace, purpose);
    if (state) return state;
    const datacenter = datacenterOf(request);
    if (!datacenter) return noDatacenter(request);
    await copyS3Secret(request);
    const keyService = purpose === 'export' ? options.keyService : undefined;
    const egress = desiredExportEgress(namespace, request.space.exportId, EXPORT_COMPONENT, exportPodSelector(request.space.exportId), destination, keyService);
    if (egress) await createObjectOnce(client, K8S.NetworkPolicy, namespace, egress);
    await createObjectOnce<V1Job>(client, JOB, namespace, desiredExportJob(request, datacenter, options.image, purpose, location, keyService));
    return { state: 'running' };
  }

  /**
   * The receiver's Secret: made once (certificate for its Service's names from the operator's CA,
   * a random token); whatever is stored is what every later step uses, so a retry or a second
   * operator never hands the exporter a token the receiver does not have.
   */
  async function receiverSecret(request: ExportRequest): Promise<{ ca: string; token: string }> {
    const claim = claimOf(request);
    const name = relayNames(request.space.exportId).receiverSecret;
    let stored = await getObject<V1Secret>(client, K8S.Secret, name, claim.namespace);
    if (!stored) {
      const ca = await options.certificateAuthority();
      const dnsNames = receiverDnsNames(request.space.exportId, claim.namespace);
      const issued = await issueServingCertificate(ca, { commonName: dnsNames[2] ?? name, dnsNames, validityDays: 90 });
      await createObjectOnce(client, K8S.Secret, claim.namespace, desiredReceiverSecret(request, { ...issued, ca: ca.certificate }, randomBytes(32).toString('base64url')));
      stored = await getObject<V1Secret>(client, K8S.Secret, name, claim.namespace);
    }
    const ca = secretField(stored, 'ca.crt');
    const token = secretField(stored, 'token');
    if (!ca || !token) throw new Error(`Secret ${claim.namespace}/${name} of the export relay has no ca.crt or token; delete it to have it made again`);
    return { ca, token };
  }

  /** Everything of the relay but the export Job: idempotent, each object made once under its fixed name. */
  async function ensureRelay(request: ExportRequest, datacenter: Datacenter): Promise<void> {
    const claim = claimOf(request);
    const { ca, token } = await receiverSecret(request);
    // A copy made from what is stored: applied, so that it follows a receiver Secret made again.
    await applyObject(client, K8S.Secret, desiredRelaySecret(request, ca, token));
    await createObjectOnce(client, K8S.NetworkPolicy, claim.namespace, desiredReceiverIngress(request));
    await createObjectOnce<V1Job>(client, JOB, claim.namespace, desiredReceiverJob(request, datacenter, options.image));
    // The Service follows the Job it belongs to. One left by a Job deleted meanwhile is being
    // collected; the next call makes this Job's.
    const job = await getObject<V1Job & KubeObject>(client, JOB, relayNames(request.space.exportId).receiverJob, claim.namespace);
    if (job) await createObjectOnce(client, K8S.Service, claim.namespace, desiredReceiverService(request, { ...job, apiVersion: 'batch/v1', kind: 'Job' }));
  }

  /** True when a receiver pod is Ready; else why not, when its pod says (e.g. it cannot be scheduled). */
  async function receiverReady(request: ExportRequest): Promise<true | string> {
    const claim = claimOf(request);
    const pods = await listAll<V1Pod & KubeObject>(client, K8S.Pod, { namespace: claim.namespace, labelSelector: `job-name=${relayNames(request.space.exportId).receiverJob}` });
    if (pods.items.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) return true;
    const unscheduled = pods.items.flatMap((p) => p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return unscheduled?.message ? `: not scheduled: ${unscheduled.message}` : '';
  }

  function exported(result: Record<string, unknown> | undefined, job: string): ExportProgress {
    if (!result || typeof result.location !== 'string' || typeof result.size !== 'number') return { state: 'failed', message: `Job ${job} succeeded without printing its result line` };
    return { state: 'succeeded', result: { location: result.location, size: result.size, sha256: String(result.sha256), exportedAt: iso(new Date()) } };
  }

  /**
   * A claim target: the receiver beside the claim first, the exporter once it listens. The receiver
   * stops only after it re-read a finished archive on the exporter's request, so its result is the
   * truth about the claim, and it is taken even when the exporter died before saying it.
   */
  async function exportThroughRelay(request: ExportRequest): Promise<ExportProgress> {
    const claim = claimOf(request);
    const names = relayNames(request.space.exportId);
    const datacenter = datacenterOf(request);
    if (!datacenter) return noDatacenter(request);
    if (!(await getObject<V1PersistentVolumeClaim>(client, K8S.PersistentVolumeClaim, claim.claimName, claim.namespace))) {
      return { state: 'failed', message: `spec.contract.exportTarget.persistentVolumeClaim: claim ${claim.namespace}/${claim.claimName} does not exist; the export waits for it` };
    }
    const receiver = await jobState(names.receiverJob, claim.namespace, 'receive');
    if (receiver?.state === 'succeeded') return exported(parseResultLine(receiver.log), `${claim.namespace}/${names.receiverJob}`);
    if (receiver?.state === 'failed') return receiver;
    await ensureRelay(request, datacenter);
    const ready = await receiverReady(request);
    if (ready !== true) return { state: 'running', message: `waiting for the export receiver ${claim.namespace}/${names.receiverJob} beside claim ${claim.claimName} to listen${ready}` };
    const exporter = await runSpaceJob(request, 'export', relayDestination(request));
    if (exporter.state === 'running') return { state: 'running', message: `Job ${exportJobName(request.space.exportId, 'export')} is exporting space ${request.space.name} to claim ${claim.namespace}/${claim.claimName}` };
    if (exporter.state === 'failed') return exporter;
    return exported(parseResultLine(exporter.log), exportJobName(request.space.exportId, 'export'));
  }

  async function verifyJob(request: ExportRequest, location: string): Promise<JobState> {
    if (!request.target.persistentVolumeClaim) return runSpaceJob(request, 'verify', s3Destination(request.target), location);
    const claim = claimOf(request);
    const parsed = parseClaimLocation(location);
    if (!parsed || parsed.namespace !== claim.namespace || parsed.claimName !== claim.claimName) return { state: 'failed', message: `${location} is not an archive on claim ${claim.namespace}/${claim.claimName}` };
    const name = relayNames(request.space.exportId).verifyJob;
    const state = await jobState(name, claim.namespace, 'verify');
    if (state) return state;
    const datacenter = datacenterOf(request);
    if (!datacenter) return noDatacenter(request);
    await createObjectOnce<V1Job>(client, JOB, claim.namespace, desiredClaimVerifyJob(request, datacenter, options.image, parsed.archive));
    return { state: 'running' };
  }

  return {
    name: 'job',
    async export(request) {
      if (request.target.persistentVolumeClaim) return exportThroughRelay(request);
      const state = await runSpaceJob(request, 'export', s3Destination(request.target));
      if (state.state !== 'succeeded') return state.state === 'running' ? { state: 'running', message: `Job ${exportJobName(request.space.exportId, 'export')} is exporting space ${request.space.name}` } : state;
      return exported(parseResultLine(state.log), exportJobName(request.space.exportId, 'export'));
    },
    async verify(request, location): Promise<VerifyProgress> {
      const state = await verifyJob(request, location);
      if (state.state === 'running') return { state: 'running', message: `Job ${request.target.persistentVolumeClaim ? relayNames(request.space.exportId).verifyJob : exportJobName(request.space.exportId, 'verify')} is re-reading ${location}` };
      if (state.state === 'failed') return state;
      const result = parseResultLine(state.log);
      if (!result || typeof result.size !== 'number' || typeof result.verifiedAt !== 'string') return { state: 'failed', message: `the verify Job of ${location} succeeded without printing its result line` };
      return { state: 'verified', verifiedAt: result.verifiedAt, size: result.size, sha256: String(result.sha256) };
    },
    async cleanup(request) {
      const { exportId, namespace } = request.space;
      for (const purpose of ['export', 'verify'] as const) await deleteObject(client, JOB, exportJobName(exportId, purpose), namespace);
      await deleteObject(client, K8S.Secret, s3CredentialsCopyName(exportId), namespace);
      await deleteObject(client, K8S.NetworkPolicy, exportEgressPolicyName(exportId), namespace);
      const claim = request.target.persistentVolumeClaim;
      if (!claim) return;
      const names = relayNames(exportId);
      await deleteObject(client, K8S.Secret, names.relaySecret, namespace);
      for (const job of [names.receiverJob, names.verifyJob]) await deleteObject(client, JOB, job, claim.namespace);
      // The receiver's Service goes with its Job (owner reference, garbage collector).
      await deleteObject(client, K8S.NetworkPolicy, names.ingressPolicy, claim.namespace);
      await deleteObject(client, K8S.Secret, names.receiverSecret, claim.namespace);
    },
  };
}
