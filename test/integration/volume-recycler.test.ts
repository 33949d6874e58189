/**
 * The harness's volume recycler (test/harness/volume-recycler.ts): a seeded datacenter volume whose
 * claim is deleted comes back Available, so that the suite's later files still find volumes in every
 * datacenter whatever ran before them.
 */
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { DATACENTER_STORAGE_CLASS, ZONE_LABEL } from '../harness/topology.ts';
import { readObject } from '../support/cluster-objects.ts';
import { clients, createNamespace, eventually } from '../support/kube.ts';

const { core, kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
let namespace = '';

afterAll(async () => {
  if (namespace) await client.request({ method: 'DELETE', path: objectPath(K8S.Namespace, namespace) }).catch(() => undefined);
  client.close();
});

describe('the harness volume recycler', () => {
  it('makes a test volume whose claim was deleted Available again', async () => {
    namespace = await createNamespace(core, 'recycle');
    const claim: V1PersistentVolumeClaim = {
      metadata: { name: 'data' },
      spec: { storageClassName: DATACENTER_STORAGE_CLASS, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    };
    const pod: V1Pod = {
      metadata: { name: 'user' },
      spec: {
        nodeSelector: { [ZONE_LABEL]: 'fr-par1' },
        containers: [{ name: 'c', image: 'registry.invalid/none', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
      },
    };
    await client.request({ method: 'POST', path: collectionPath(K8S.PersistentVolumeClaim, namespace), body: claim });
    await client.request({ method: 'POST', path: collectionPath(K8S.Pod, namespace), body: pod });
    const volumeName = await eventually('the claim to be bound', async () => {
      const bound = await readObject<V1PersistentVolumeClaim>(client, K8S.PersistentVolumeClaim, 'data', namespace);
      return bound?.status?.phase === 'Bound' ? bound.spec?.volumeName : undefined;
    });
    expect(volumeName).toMatch(/^fr-par1-vol-\d+$/);

    await client.request({ method: 'DELETE', path: objectPath(K8S.Pod, 'user', namespace), body: { gracePeriodSeconds: 0 } });
    await client.request({ method: 'DELETE', path: objectPath(K8S.PersistentVolumeClaim, 'data', namespace) });
    // Retain would leave it Released for good; the recycler clears its claim reference.
    const volume = await eventually('the volume to be Available again', async () => {
      const current = await client.request<V1PersistentVolume>({ method: 'GET', path: `/api/v1/persistentvolumes/${volumeName}` });
      return current.status?.phase === 'Available' ? current : undefined;
    }, { timeoutMs: 30_000 });
    expect(volume.spec?.claimRef ?? null).toBeNull();
    expect(volume.spec?.persistentVolumeReclaimPolicy).toBe('Retain');
  });
});
