/**
 * Upgrades (S3): a new operator image installed by `helm upgrade` rolls every gateway onto it, one
 * replica at a time, and the gateways' PodDisruptionBudget refuses a second eviction while one replica
 * is away. It leaves the cluster on the new image, which no other file depends on.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Deployment, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, readObject } from '../support/cluster-objects.ts';
import { eventually, sleep, uniqueName } from '../support/kube.ts';
import { installOperator } from './release.ts';
import { client, clientWithoutRetries, readyGatewayPods, readySpaceAndEndpoint } from './support.ts';

const run = promisify(execFile);
const kind = join(import.meta.dirname, '../../.cache/kind/bin/kind');
const tenant = uniqueName('kind-upgrade');
let namespace: string;

/**
 * Waits until the gateway Deployment has finished rolling out (exactly its two replicas, all updated and
 * available, none terminating) and the disruption controller has counted them (its status for the
 * budget's current generation says 2 healthy, 1 disruption allowed). Before that, a rollout's surge pod
 * or a status from the moment three pods were healthy lets a second eviction through, which is the
 * budget doing its job on numbers the test did not mean to give it.
 */
async function settledGateway(): Promise<V1Pod[]> {
  return eventually('gateway rolled out and counted by its PodDisruptionBudget', async () => {
    const deployment = await readObject<V1Deployment>(client, K8S.Deployment, 'main-gateway', namespace);
    const budget = await readObject<V1PodDisruptionBudget>(client, K8S.PodDisruptionBudget, 'main-gateway', namespace);
    const list = await client.request<{ items: V1Pod[] }>({ method: 'GET', path: collectionPath(K8S.Pod, namespace), query: { labelSelector: 'tenantbackup.io/space=main' } });
    const status = deployment?.status;
    const rolledOut = status?.observedGeneration === deployment?.metadata?.generation
      && status?.replicas === 2 && status?.updatedReplicas === 2 && status?.availableReplicas === 2;
    const counted = budget?.status?.observedGeneration === budget?.metadata?.generation
      && budget?.status?.expectedPods === 2 && budget?.status?.currentHealthy === 2 && budget?.status?.disruptionsAllowed === 1;
    const pods = list.items.filter((pod) => !pod.metadata?.deletionTimestamp);
    const ready = await readyGatewayPods(namespace, 'main');
    return rolledOut && counted && list.items.length === 2 && pods.length === 2 && ready.length === 2 ? ready : undefined;
  }, { timeoutMs: 240_000, intervalMs: 1000 });
}

function imageOf(pod: V1Pod): string {
  return pod.spec?.containers[0]?.image ?? '';
}

beforeAll(async () => {
  ({ namespace } = await createReadyTenant(client, tenant, {
    residency: { countries: ['DE'] }, quotas: { storage: '20Gi', spaces: 1, endpoints: 2 }, security: { twoFactor: 'Optional', keyCustody: 'provider' },
  }));
  await createSpace(client, 'main', namespace, { size: '1Gi', datacenter: 'de-fra1', replicas: 2 });
  await createEndpoint(client, 'nas', namespace, 'main', { kind: 'Server', os: 'Linux' });
  await readySpaceAndEndpoint(namespace, 'main', 'nas');
  await eventually('two ready gateway pods', async () => ((await readyGatewayPods(namespace, 'main')).length === 2 ? true : undefined), { timeoutMs: 240_000 });
}, 600_000);

describe('upgrades', () => {
  it('lets the PodDisruptionBudget refuse evicting a second gateway replica while the first is away', async () => {
    const pods = await settledGateway();
    const evict = (pod: V1Pod) => clientWithoutRetries.request({
      method: 'POST', path: `${objectPath(K8S.Pod, pod.metadata?.name ?? '', namespace)}/eviction`,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata?.name, namespace } },
    }).then(() => 'evicted', (error: { code?: number }) => `refused ${error.code}`);
    expect(await evict(pods[0] as V1Pod)).toBe('evicted');
    expect(await evict(pods[1] as V1Pod)).toBe('refused 429');
    await eventually('both replicas back', async () => ((await readyGatewayPods(namespace, 'main')).length === 2 ? true : undefined), { timeoutMs: 240_000 });
  });

  it('rolls the gateways onto the operator\'s new image when the chart is upgraded, never leaving the space without a ready replica', async () => {
    const current = inject('operatorImage');
    const next = `${current.slice(0, current.lastIndexOf(':'))}:kind-upgrade-${Date.now()}`;
    await run('docker', ['tag', current, next]);
    await run(kind, ['load', 'docker-image', '--name', inject('kindCluster'), next], { timeout: 300_000 });

    let fewestReady = Number.POSITIVE_INFINITY;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        fewestReady = Math.min(fewestReady, (await readyGatewayPods(namespace, 'main')).length);
        await sleep(500);
      }
    })();
    try {
      await installOperator(inject('kindKubeconfig'), next);
      await eventually('every gateway pod on the new image', async () => {
        const list = await client.request<{ items: V1Pod[] }>({ method: 'GET', path: collectionPath(K8S.Pod, namespace), query: { labelSelector: 'tenantbackup.io/space=main' } });
        const ready = await readyGatewayPods(namespace, 'main');
        return list.items.length === 2 && ready.length === 2 && ready.every((pod) => imageOf(pod) === next) ? true : undefined;
      }, { timeoutMs: 420_000, intervalMs: 2000 });
    } finally {
      sampling = false;
      await sampler;
    }
    expect(fewestReady).toBeGreaterThanOrEqual(1);
  });
});
