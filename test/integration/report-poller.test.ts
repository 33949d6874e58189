/**
 * Gateway reports are polled off the reconcile path (hardening issue 12, "structure first"): with a
 * gateway that accepts connections and never answers (each poll then waits out its 5 s timeout) and
 * a report interval of 1 s, a change to a serving space still shows in its status at once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { tenantNamespaceName } from '../../src/controllers/labels.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createReadyTenant, createSpace, ensureDatacenters, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const tenant = uniqueName('silent');
const namespace = tenantNamespaceName(tenant);
const sockets: Socket[] = [];
let silent: Server;
let operator: OperatorProcess;

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  // Accepts every connection and never says a word: the TLS handshake of each poll hangs until its timeout.
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
  const port = (silent.address() as { port: number }).port;
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, [
    '--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test',
    '--report-interval', '1s', '--gateway-address', `${namespace}/main=127.0.0.1:${port}`, '--gateway-address', `${namespace}/spare=127.0.0.1:${port}`,
  ]);
});

afterAll(async () => {
  await removeTenant(client, tenant);
  await operator.stop();
  for (const socket of sockets) socket.destroy();
  silent.close();
});

describe('gateway reports', () => {
  it('never hold up a space\'s reconcile: a serving space\'s change shows in status while every poll of its gateway hangs', async () => {
    await createReadyTenant(client, tenant, { quotas: { storage: '100Gi', spaces: 3, endpoints: 2 } });
    await createSpace(client, 'main', namespace, { size: '1Gi', datacenter: 'it-rom1', replicas: 1 });
    await createSpace(client, 'spare', namespace, { size: '1Gi', datacenter: 'it-rom1', replicas: 1 });
    await waitForCondition<BackupSpace>(client, API.BackupSpace, 'main', namespace, 'Ready', 'True', undefined, 90_000);
    await waitForCondition<BackupSpace>(client, API.BackupSpace, 'spare', namespace, 'Ready', 'True', undefined, 90_000);
    await eventually('the operator to be polling the silent gateway', async () => (sockets.length >= 2 ? true : undefined));

    for (const appendOnly of [true, false, true]) {
      const before = (await readObject<BackupSpace>(client, API.BackupSpace, 'main', namespace))?.metadata.generation ?? 0;
      const started = Date.now();
      await mergePatch(client, API.BackupSpace, 'main', namespace, { spec: { access: { appendOnly } } });
      await eventually('the change to be observed', async () => {
        const space = await readObject<BackupSpace>(client, API.BackupSpace, 'main', namespace);
        return (space?.status?.observedGeneration ?? 0) > before ? true : undefined;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      // A reconcile that waited on the gateway would take its 5 s timeout at least.
      expect(Date.now() - started, `observing appendOnly ${appendOnly}`).toBeLessThan(3500);
    }
  });
});
