/**
 * The seeded datacenter volumes are statically provisioned with reclaim policy Retain, so a volume
 * whose claim was deleted stays Released for good — as it would in a provider's cluster until an
 * admin (or a dynamic provisioner's Delete policy) recycles it. A suite that creates and deletes more
 * spaces in one datacenter than it has volumes would otherwise starve the later files of volumes, in
 * an order that depends on which files ran first. The harness plays that admin: it makes a Released
 * test volume Available again by clearing its claim reference.
 */
import type { V1PersistentVolume } from '@kubernetes/client-node';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';

const TEST_VOLUMES = '/api/v1/persistentvolumes?labelSelector=tenantbackup.io%2Ftest-volume%3Dtrue';

/** Names of the test volumes that are Released, i.e. whose claim is gone. */
export function releasedVolumes(volumes: readonly V1PersistentVolume[]): string[] {
  return volumes.filter((volume) => volume.status?.phase === 'Released').map((volume) => volume.metadata?.name ?? '').filter((name) => name !== '');
}

/** One pass: every Released test volume made Available. Returns the names recycled. */
export async function recycleReleasedVolumes(client: KubeClient): Promise<string[]> {
  const list = await client.request<{ items: V1PersistentVolume[] }>({ method: 'GET', path: TEST_VOLUMES });
  const released = releasedVolumes(list.items);
  for (const name of released) {
    await client.request({ method: 'PATCH', path: `/api/v1/persistentvolumes/${name}`, body: { spec: { claimRef: null } }, contentType: CONTENT_TYPE.merge });
  }
  return released;
}

/**
 * Recycles every `intervalMs` until stopped. Errors are ignored and retried on the next pass: some
 * tests restart the API server on purpose.
 */
export function startVolumeRecycler(kubeconfigPath: string, intervalMs = 2_000): () => Promise<void> {
  const client = KubeClient.load(kubeconfigPath);
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => recycleReleasedVolumes(client)).catch(() => undefined);
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
    client.close();
  };
}
