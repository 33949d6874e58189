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
 * made for the export and deleted with the Job (and, at the latest, with the namespace).
 */
import type { V1Job, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Datacenter } from '../../api/types.ts';
import type { ExportTarget as ApiExportTarget } from '../../api/tenant.ts';
import { createObjectOnce, deleteObject, getObject } from '../../runtime/apply.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { listAll } from '../../runtime/kube/list.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { datacenterNodeSelectorTerm } from '../datacenter/nodes.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, SPACE_LABEL, spaceObjectNames } from '../labels.ts';
import { CONFIG_DIR, DATA_DIR, gatewaySelector, IMAGE_ENTRY_POINT, keyTokenMount, keyTokenVolume, keyServiceArgs, type KeyServiceLocation } from '../backupspace/desired.ts';
import { desiredExportEgress, exportEgressPolicyName } from './termination-export-egress.ts';
import type { ExportRequest, ExportRunner } from './termination-runner.ts';

export const JOB: ResourceRef = { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', namespaced: true };
export const EXPORT_COMPONENT = 'export';
const CA_DIR = '/etc/export-ca';

export type JobPurpose = 'export' | 'verify';

export function exportJobName(exportId: string, purpose: JobPurpose): string {
  return `${purpose}-${exportId}`;
}

export function s3CredentialsCopyName(exportId: string): string {
  return `${exportId}-s3`;
}

/** Why the Job runner cannot take this target, or undefined when it can. */
export function unsupportedTarget(target: ApiExportTarget): string | undefined {
  if (target.persistentVolumeClaim) {
    return `spec.contract.exportTarget.persistentVolumeClaim: a pod mounts only claims of its own namespace, and the space's volume is in the tenant's namespace while ${target.persistentVolumeClaim.namespace}/${target.persistentVolumeClaim.claimName} is not; use an s3 target with --export-runner=job, or --export-runner=local where the operator sees the volumes`;
  }
  return undefined;
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

/** The container's stdout (the result line) becomes its termination message, kept in the pod's status. */
const RESULT_TO_TERMINATION_MESSAGE = 'exec node "$0" "$@" > /dev/termination-log';

/** Pure: the Job that exports (or verifies) one space. */
export function desiredExportJob(request: ExportRequest, datacenter: Datacenter, image: string, purpose: JobPurpose, location?: string, keyService?: KeyServiceLocation): V1Job {
  const { space } = request;
  const names = spaceObjectNames(space.name);
  const s3 = request.target.s3;
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: EXPORT_COMPONENT, [SPACE_LABEL]: space.name, 'tenantbackup.io/export-id': space.exportId };
  const args = purpose === 'export'
    ? ['export', '--data-dir', DATA_DIR, '--config-dir', CONFIG_DIR, '--tenant', request.tenant, '--export-id', space.exportId, '--organization', request.organization, '--created', request.createdAt.toISOString(), ...targetArgs(request.target), ...(keyService ? keyServiceArgs(keyService) : [])]
    : ['verify-export', location ?? '', ...connectionArgs(request.target)];
  const env = s3
    ? ['accessKeyId', 'secretAccessKey'].map((key) => ({
      name: key === 'accessKeyId' ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY',
      valueFrom: { secretKeyRef: { name: s3CredentialsCopyName(space.exportId), key } },
    }))
    : [];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: exportJobName(space.exportId, purpose), namespace: space.namespace, labels },
    spec: {
      backoffLimit: 3,
      // Kept until the operator has read the result; it deletes the Job then.
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          // As the space's gateway: the key service hands a provider data key to that identity only.
          ...(purpose === 'export' && keyService ? { serviceAccountName: names.serviceAccount } : {}),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: {
            // The data stays in its datacenter and its country (S7): the same nodes as the space's gateway.
            nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [datacenterNodeSelectorTerm(datacenter)] } },
            // Beside a gateway replica when one runs: a ReadWriteOnce volume attaches to one node only.
            podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: gatewaySelector({ metadata: { name: space.name } }) }, topologyKey: 'kubernetes.io/hostname' } }] },
          },
          containers: [{
            name: purpose,
            image,
            command: ['sh', '-c', RESULT_TO_TERMINATION_MESSAGE, IMAGE_ENTRY_POINT],
            args,
            terminationMessagePolicy: 'File',
            env,
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              ...(purpose === 'export' ? [{ name: 'config', mountPath: CONFIG_DIR, readOnly: true }, { name: 'data', mountPath: DATA_DIR, readOnly: true }] : []),
              ...(purpose === 'export' && keyService ? [keyTokenMount()] : []),
              ...(s3?.caBundle ? [{ name: 'ca', mountPath: CA_DIR, readOnly: true }] : []),
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }],
          volumes: [
            ...(purpose === 'export' ? [
              // ca.crt (the operator's CA) verifies the key service.
              { name: 'config', projected: { defaultMode: 0o440, sources: [{ secret: { name: names.configSecret } }, { secret: { name: names.tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } },
              { name: 'data', persistentVolumeClaim: { claimName: names.volume, readOnly: true } },
              ...(keyService ? [keyTokenVolume()] : []),
            ] : []),
            ...(s3?.caBundle ? [{ name: 'ca', secret: { secretName: s3CredentialsCopyName(space.exportId), items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
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
  /** Where the export Job gets a provider-custody space's data key. */
  keyService?: KeyServiceLocation;
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

  async function runJob(request: ExportRequest, purpose: JobPurpose, location?: string): Promise<JobState> {
    const name = exportJobName(request.space.exportId, purpose);
    const namespace = request.space.namespace;
    const job = await getObject<V1Job>(client, JOB, name, namespace);
    if (!job) {
      const datacenter = options.datacenters.get(request.space.datacenter);
      if (!datacenter) return { state: 'failed', message: `datacenter ${request.space.datacenter} of space ${request.space.name} does not exist; the export must run in it` };
      await copyS3Secret(request);
      const egress = desiredExportEgress(namespace, request.space.exportId, EXPORT_COMPONENT, { [COMPONENT_LABEL]: EXPORT_COMPONENT, 'tenantbackup.io/export-id': request.space.exportId }, request.target, options.keyService);
      if (egress) await createObjectOnce(client, K8S.NetworkPolicy, namespace, egress);
      await createObjectOnce<V1Job>(client, JOB, namespace, desiredExportJob(request, datacenter, options.image, purpose, location, options.keyService));
      return { state: 'running' };
    }
    const conditions = job.status?.conditions ?? [];
    if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) {
      await deleteObject(client, JOB, name, namespace);
      return { state: 'failed', message: `Job ${namespace}/${name} failed: ${conditions.find((c) => c.type === 'Failed')?.message ?? 'no message'}; it is made again` };
    }
    if (!conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return { state: 'running' };
    const pods = await listAll<V1Pod & KubeObject>(client, K8S.Pod, { namespace, labelSelector: `job-name=${name}` });
    const succeeded = pods.items.find((p) => p.status?.phase === 'Succeeded');
    if (!succeeded) return { state: 'running' };
    const message = succeeded.status?.containerStatuses?.find((c) => c.name === purpose)?.state?.terminated?.message ?? '';
    return { state: 'succeeded', log: message };
  }

  return {
    name: 'job',
    async export(request) {
      const unsupported = unsupportedTarget(request.target);
      if (unsupported) return { state: 'failed', message: unsupported };
      const state = await runJob(request, 'export');
      if (state.state !== 'succeeded') return state.state === 'running' ? { state: 'running', message: `Job ${exportJobName(request.space.exportId, 'export')} is exporting space ${request.space.name}` } : state;
      const result = parseResultLine(state.log);
      if (!result || typeof result.location !== 'string' || typeof result.size !== 'number') return { state: 'failed', message: `Job ${exportJobName(request.space.exportId, 'export')} succeeded without printing its result line` };
      return { state: 'succeeded', result: { location: result.location, size: result.size, sha256: String(result.sha256), exportedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } };
    },
    async verify(request, location) {
      const state = await runJob(request, 'verify', location);
      if (state.state !== 'succeeded') return state.state === 'running' ? { state: 'running', message: `Job ${exportJobName(request.space.exportId, 'verify')} is re-reading ${location}` } : state;
      const result = parseResultLine(state.log);
      if (!result || typeof result.size !== 'number' || typeof result.verifiedAt !== 'string') return { state: 'failed', message: `Job ${exportJobName(request.space.exportId, 'verify')} succeeded without printing its result line` };
      return { state: 'verified', verifiedAt: result.verifiedAt, size: result.size, sha256: String(result.sha256) };
    },
    async cleanup(request) {
      for (const purpose of ['export', 'verify'] as const) await deleteObject(client, JOB, exportJobName(request.space.exportId, purpose), request.space.namespace);
      await deleteObject(client, K8S.Secret, s3CredentialsCopyName(request.space.exportId), request.space.namespace);
      await deleteObject(client, K8S.NetworkPolicy, exportEgressPolicyName(request.space.exportId), request.space.namespace);
    },
  };
}
