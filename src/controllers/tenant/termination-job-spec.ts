/**
 * The shape every Job of a termination export shares (exporter, verifier, the relay's receiver): the
 * operator image's entry point with its stdout — the one result line — as the container's termination
 * message, which the API server keeps in the finished pod's status; a restricted pod (non-root, no
 * service account token, read-only root, no capabilities) with a small scratch /tmp.
 */
import type { V1Affinity, V1ContainerPort, V1EnvVar, V1Job, V1Probe, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { IMAGE_ENTRY_POINT } from '../backupspace/desired.ts';

export const JOB: ResourceRef = { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', namespaced: true };
export const EXPORT_COMPONENT = 'export';
export const EXPORT_ID_LABEL = 'tenantbackup.io/export-id';

/** The container's stdout (the result line) becomes its termination message, kept in the pod's status. */
const RESULT_TO_TERMINATION_MESSAGE = 'exec node "$0" "$@" > /dev/termination-log';

export interface ToolJob {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  image: string;
  /** The container's name: what the result is read from. */
  container: string;
  args: string[];
  env?: V1EnvVar[];
  mounts: V1VolumeMount[];
  volumes: V1Volume[];
  affinity: V1Affinity;
  ports?: V1ContainerPort[];
  readinessProbe?: V1Probe;
  /** Run as this ServiceAccount (its API token is still not mounted; a projected volume may carry one for an audience). */
  serviceAccountName?: string;
}

/** Pure: the Job running one subcommand of the operator image. */
export function toolJob(spec: ToolJob): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: spec.name, namespace: spec.namespace, labels: spec.labels },
    spec: {
      backoffLimit: 3,
      // Kept until the operator has read the result; it deletes the Job then.
      template: {
        metadata: { labels: spec.labels },
        spec: {
          restartPolicy: 'Never',
          ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: spec.affinity,
          containers: [{
            name: spec.container,
            image: spec.image,
            command: ['sh', '-c', RESULT_TO_TERMINATION_MESSAGE, IMAGE_ENTRY_POINT],
            args: spec.args,
            terminationMessagePolicy: 'File',
            env: spec.env ?? [],
            ...(spec.ports ? { ports: spec.ports } : {}),
            ...(spec.readinessProbe ? { readinessProbe: spec.readinessProbe } : {}),
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [...spec.mounts, { name: 'tmp', mountPath: '/tmp' }],
          }],
          volumes: [...spec.volumes, { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}
