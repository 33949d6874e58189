import { allCustomResourceDefinitions } from '../../src/api/crd.ts';
import { CONTENT_TYPE, type KubeClient } from '../../src/runtime/kube/client.ts';
import { objectPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { eventually } from './kube.ts';

interface CrdStatus { status?: { conditions?: { type: string; status: string }[] } }

/** Installs (or updates) the project's CRDs, generated from src/api, and waits until they are served. */
export async function installCrds(client: KubeClient): Promise<void> {
  for (const crd of allCustomResourceDefinitions()) {
    const name = crd.metadata?.name ?? '';
    await client.request({
      method: 'PATCH',
      path: objectPath(K8S.CustomResourceDefinition, name),
      query: { fieldManager: 'tenant-backup-tests', force: true },
      body: crd,
      contentType: CONTENT_TYPE.apply,
    });
    await eventually(`CRD ${name} to be established`, async () => {
      const current = await client.request<CrdStatus>({ method: 'GET', path: objectPath(K8S.CustomResourceDefinition, name) });
      return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
}
