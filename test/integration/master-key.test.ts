/**
 * A lost master key on the real control plane (hardening item 11): while space keys wrapped by it
 * exist, the operator makes no new one over them — the spaces say Stalled (MasterKeyMissing) — and a
 * restored master key Secret is picked up again. (Space keys of the other test files' operators,
 * whose master keys are alive in their own namespaces, do not count.)
 */
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { MASTER_KEY_SECRET } from '../../src/controllers/backupspace/keys.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { condition, createReadyTenant, createSpace, ensureDatacenters, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const args = ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test'];
let tenant = '';
let operator: OperatorProcess | undefined;
let master: V1Secret | undefined;

/** Puts the master key Secret back as it was (a restore from a backup). */
async function restoreMasterKey(): Promise<void> {
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, operatorNamespace), body: { metadata: { name: MASTER_KEY_SECRET, labels: master?.metadata?.labels }, type: 'Opaque', data: master?.data } });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, args);
});

afterAll(async () => {
  // Never leave space keys behind whose master key is gone: the next operator would refuse to start over them.
  if (master && !(await readObject(client, K8S.Secret, MASTER_KEY_SECRET, operatorNamespace))) await restoreMasterKey();
  if (tenant) await removeTenant(client, tenant);
  await operator?.stop();
});

describe('the master key', () => {
  it('is never made anew while space keys wrapped by it exist: Stalled MasterKeyMissing, until the Secret is restored', async () => {
    tenant = uniqueName('masterkey');
    const { namespace } = await createReadyTenant(client, tenant, { quotas: { storage: '100Gi', spaces: 3, endpoints: 2 } });
    await createSpace(client, 'main', namespace, { size: '1Gi', datacenter: 'it-rom1', replicas: 1 });
    const keyed = await eventually('a key', async () => {
      const s = await readObject<BackupSpace>(client, API.BackupSpace, 'main', namespace);
      return s?.status?.keyId ? s : undefined;
    });
    master = await readObject<V1Secret>(client, K8S.Secret, MASTER_KEY_SECRET, operatorNamespace);
    expect(master?.data?.key).toBeDefined();

    // The master key Secret is lost while the operator is down.
    await operator?.stop();
    operator = undefined;
    await client.request({ method: 'DELETE', path: objectPath(K8S.Secret, MASTER_KEY_SECRET, operatorNamespace) });
    operator = await OperatorProcess.start(kubeconfigPath, args);

    const stalled = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'main', namespace, 'Stalled', 'True', 'MasterKeyMissing');
    expect(condition(stalled, 'Stalled')?.message).toContain(`${namespace}/main-key`);
    expect(stalled.status?.keyId).toBe(keyed.status?.keyId);
    // A new space gets no key under a new master key either.
    await createSpace(client, 'second', namespace, { size: '1Gi', datacenter: 'it-rom1', replicas: 1 });
    await waitForCondition<BackupSpace>(client, API.BackupSpace, 'second', namespace, 'Stalled', 'True', 'MasterKeyMissing');
    await new Promise((done) => setTimeout(done, 2000));
    expect(await readObject(client, K8S.Secret, MASTER_KEY_SECRET, operatorNamespace)).toBeUndefined();
    expect(await readObject(client, K8S.Secret, 'second-key', namespace)).toBeUndefined();

    // Restored from a backup: the spaces go on with their keys.
    await restoreMasterKey();
    const recovered = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'main', namespace, 'KeyReady', 'True', undefined, 90_000);
    expect(condition(recovered, 'Stalled')?.status).not.toBe('True');
    expect(recovered.status?.keyId).toBe(keyed.status?.keyId);
  });
});
