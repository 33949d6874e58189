/**
 * What a provider's cluster has before the operator arrives: labelled nodes in several datacenters
 * (simulated by kwok), and statically provisioned volumes in each datacenter behind a
 * WaitForFirstConsumer StorageClass, so the real scheduler decides where a volume and its pods land.
 */
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import {
  DATACENTER_STORAGE_CLASS,
  SIMULATED_DATACENTERS,
  simulatedNodes,
  VOLUME_SIZE,
  VOLUMES_PER_DATACENTER,
  ZONE_LABEL,
  type SimulatedDatacenter,
  type SimulatedNode,
} from './topology.ts';

const FIELD_MANAGER = 'tenant-backup-test-harness';

function nodeObject(node: SimulatedNode): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: node.labels, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    spec: {},
    status: { capacity: { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '500Gi' } },
  } as KubernetesObject;
}

/** The `index`th (1-based) statically provisioned volume of a datacenter. */
export function datacenterVolume(datacenter: SimulatedDatacenter, index: number): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${datacenter.zone}-vol-${index}`, labels: { 'tenantbackup.io/test-volume': 'true', [ZONE_LABEL]: datacenter.zone } },
    spec: {
      capacity: { storage: VOLUME_SIZE },
      accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: DATACENTER_STORAGE_CLASS,
      nfs: { server: `nfs.${datacenter.zone}.example`, path: `/exports/vol${index}` },
      nodeAffinity: {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: [datacenter.zone] }] }] },
      },
    },
  } as KubernetesObject;
}

function datacenterVolumes(datacenter: SimulatedDatacenter): KubernetesObject[] {
  return Array.from({ length: VOLUMES_PER_DATACENTER }, (_, index) => datacenterVolume(datacenter, index + 1));
}

const storageClass = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: DATACENTER_STORAGE_CLASS },
  provisioner: 'kubernetes.io/no-provisioner',
  volumeBindingMode: 'WaitForFirstConsumer',
  reclaimPolicy: 'Retain',
} as KubernetesObject;

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function apply(client: KubernetesObjectApi, object: KubernetesObject): Promise<void> {
  await client.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

export async function seedCluster(kubeconfigPath: string, timeoutMs = 120_000): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const objects = config.makeApiClient(KubernetesObjectApi);
  const core = config.makeApiClient(CoreV1Api);
  const nodes = simulatedNodes();

  for (const node of nodes) {
    try {
      await objects.create(nodeObject(node));
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
  await apply(objects, storageClass);
  for (const volume of SIMULATED_DATACENTERS.flatMap(datacenterVolumes)) await apply(objects, volume);

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await core.listNode();
    const ready = listed.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    const serviceAccounts = await core.listNamespacedServiceAccount({ namespace: 'default' });
    if (ready.length >= nodes.length && serviceAccounts.items.some((sa) => sa.metadata?.name === 'default')) return;
    if (Date.now() > deadline) {
      throw new Error(`cluster not seeded in ${timeoutMs / 1000}s: ${ready.length}/${nodes.length} nodes Ready, default ServiceAccount ${serviceAccounts.items.length > 0 ? 'present' : 'missing'}`);
    }
    await sleep(250);
  }
}
