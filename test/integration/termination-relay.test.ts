/**
 * The Job runner's relay to a claim of the provider's namespace, on the real API server, scheduler
 * and Job controller (kwok runs no container: its pods become Running and Ready, and this test
 * finishes them as the receiver and the verifier would, with their result lines as termination
 * messages). What is checked is what the operator makes, where, in which order, and that it removes
 * all of it in both namespaces once the export is verified. The archive's bytes on real pods are the
 * kind suite's (test/kind/termination-pvc.test.ts).
 */
import type { V1Job, V1NetworkPolicy, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { relayNames } from '../../src/controllers/tenant/termination-export-relay.ts';
import { exportJobName } from '../../src/controllers/tenant/termination-export-job.ts';
import { JOB } from '../../src/controllers/tenant/termination-job-spec.ts';
import { archiveName } from '../../src/export/names.ts';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';
import { listAll } from '../../src/runtime/kube/list.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { ensureDatacenters, mergePatch, readObject, removeTenant } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { DATACENTER_STORAGE_CLASS } from '../harness/topology.ts';
import { tenantWithData, terminationRecord, waitForTerminationPhase } from './termination-fixture.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-relay');
const provider = uniqueName('provider');
const tenants: string[] = [];
let operator: OperatorProcess | undefined;

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  for (const name of [operatorNamespace, provider]) await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name } } });
  await client.request({
    method: 'POST', path: collectionPath(K8S.PersistentVolumeClaim, provider),
    body: { metadata: { name: 'exports' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: DATACENTER_STORAGE_CLASS, resources: { requests: { storage: '10Gi' } } } },
  });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--export-runner', 'job']);
}, 300_000);

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator?.stop();
});

/** The one pod of a Job, once kwok has it Ready. */
async function readyPod(job: string, namespace: string): Promise<V1Pod> {
  return eventually(`a Ready pod of Job ${namespace}/${job}`, async () => {
    const { items } = await listAll<V1Pod>(client, K8S.Pod, { namespace, labelSelector: `job-name=${job}` });
    return items.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  }, { timeoutMs: 60_000 });
}

/** Ends a pod as its container would: exit 0, the result line as its termination message. */
async function finishPod(pod: V1Pod, container: string, result: unknown): Promise<void> {
  const now = new Date().toISOString();
  await client.request({
    method: 'PATCH', path: objectPath(K8S.Pod, pod.metadata?.name ?? '', pod.metadata?.namespace, 'status'), contentType: CONTENT_TYPE.merge,
    body: {
      status: {
        phase: 'Succeeded',
        conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
        containerStatuses: [{ name: container, image: 'registry.invalid/tenant-backup-operator:test', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', message: `${JSON.stringify(result)}\n`, startedAt: now, finishedAt: now } } }],
      },
    },
  });
}

/** Every object of the export, by its label, in a namespace. */
async function labelled(namespace: string, exportId: string): Promise<string[]> {
  const selector = `tenantbackup.io/export-id=${exportId}`;
  const found: string[] = [];
  for (const ref of [JOB, K8S.Service, K8S.Secret, K8S.NetworkPolicy]) {
    const { items } = await listAll<{ metadata?: { name?: string } }>(client, ref, { namespace, labelSelector: selector });
    found.push(...items.map((i) => `${ref.kind}/${i.metadata?.name ?? ''}`));
  }
  return found.sort();
}

describe('a claim target with --export-runner=job', () => {
  it('relays through a receiver beside the claim, verifies there, exports anew after a failed re-read, and leaves nothing of the relay in either namespace', async () => {
    const name = uniqueName('relay-ended');
    tenants.push(name);
    const root = await mkdtemp(join(tmpdir(), 'relay-unused-'));
    const { namespace } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: [] }], { exportTarget: { persistentVolumeClaim: { namespace: provider, claimName: 'exports' } } });
    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { state: 'Terminated' } } });
    await waitForTerminationPhase(client, name, 'Exporting');
    const exportId = (await terminationRecord(client, operatorNamespace, name))?.spaces[0]?.exportId ?? '';
    expect(exportId).toMatch(/^term-/);
    const names = relayNames(exportId);

    // Beside the claim: the receiver, its Service, Secret and ingress policy.
    const receiver = await eventually('the receiver Job', () => readObject<V1Job>(client, JOB, names.receiverJob, provider));
    expect(receiver.spec?.template.spec?.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'exports' } });
    const secret = await readObject<V1Secret>(client, K8S.Secret, names.receiverSecret, provider);
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key', 'token']);
    const service = await readObject<V1Service>(client, K8S.Service, names.service, provider);
    expect(service?.spec?.ports?.[0]).toMatchObject({ port: 8443, targetPort: 8443 });
    const ingress = await readObject<V1NetworkPolicy>(client, K8S.NetworkPolicy, names.ingressPolicy, provider);
    expect((ingress?.spec?.ingress?.[0] as { from?: { namespaceSelector?: { matchLabels?: unknown } }[] } | undefined)?.from?.[0]?.namespaceSelector?.matchLabels).toEqual({ 'kubernetes.io/metadata.name': namespace });

    // The export Job comes only once the receiver is Ready (kwok makes its pod Ready), with the same token.
    const receiverPod = await readyPod(names.receiverJob, provider);
    expect(receiverPod.spec?.nodeName).toMatch(/^it-/);
    const exporter = await eventually('the export Job', () => readObject<V1Job>(client, JOB, exportJobName(exportId, 'export'), namespace));
    const copy = await readObject<V1Secret>(client, K8S.Secret, names.relaySecret, namespace);
    const token = secretField(secret, 'token') ?? '';
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(secretField(copy, 'token')).toBe(token);
    expect(secretField(copy, 'ca.crt')).toBe(secretField(secret, 'ca.crt'));
    expect(JSON.stringify(exporter.spec)).not.toContain(token);
    expect(exporter.spec?.template.spec?.containers[0]?.args).toContain(`https://${names.service}.${provider}.svc:8443/`);
    const egress = await readObject<V1NetworkPolicy>(client, K8S.NetworkPolicy, `${exportId}-egress`, namespace);
    expect(egress?.spec?.egress?.[1]?.to?.[0]?.namespaceSelector?.matchLabels).toEqual({ 'kubernetes.io/metadata.name': provider });

    // The receiver finishes (it re-read the archive on the claim): its word is the export's result.
    const archive = archiveName(name, 'main', exportId);
    const location = `pvc://${provider}/exports/${archive}`;
    const sha256 = 'c'.repeat(64);
    await finishPod(receiverPod, 'receive', { location, size: 20480, sha256, files: 3, bytes: 1024, verifiedAt: new Date().toISOString() });
    await waitForTerminationPhase(client, name, 'Verifying');

    // The verify Job runs beside the claim, mounting it read-only, on the file.
    const verify = await eventually('the verify Job beside the claim', () => readObject<V1Job>(client, JOB, names.verifyJob, provider));
    expect(verify.spec?.template.spec?.containers[0]?.args).toEqual(['verify-export', `/export/${archive}`]);
    expect(verify.spec?.template.spec?.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'exports', readOnly: true } });
    // A re-read that does not match: the export is made again from scratch, by new Jobs (a finished
    // receiver Job kept would hand back the same result, and the machine would never move).
    await finishPod(await readyPod(names.verifyJob, provider), 'verify', { location: `/export/${archive}`, size: 20480, sha256: 'd'.repeat(64), files: 3, bytes: 1024, verifiedAt: new Date().toISOString() });
    await waitForTerminationPhase(client, name, 'Exporting');
    const again = await eventually('a new receiver Job', async () => {
      const job = await readObject<V1Job>(client, JOB, names.receiverJob, provider);
      return job && job.metadata?.uid !== receiver.metadata?.uid ? job : undefined;
    }, { timeoutMs: 60_000 });
    expect(again.spec?.template.spec?.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'exports' } });
    await finishPod(await readyPod(names.receiverJob, provider), 'receive', { location, size: 20480, sha256, files: 3, bytes: 1024, verifiedAt: new Date().toISOString() });
    await waitForTerminationPhase(client, name, 'Verifying');
    await finishPod(await readyPod(names.verifyJob, provider), 'verify', { location: `/export/${archive}`, size: 20480, sha256, files: 3, bytes: 1024, verifiedAt: new Date().toISOString() });

    const done = await waitForTerminationPhase(client, name, 'Done');
    expect(done.status?.termination?.exportVerified).toBe(true);
    const record = await terminationRecord(client, operatorNamespace, name);
    expect(record?.spaces[0]).toMatchObject({ location, size: 20480, sha256 });
    // Nothing of the relay is left: not beside the claim, and the tenant's namespace is gone.
    await eventually('the relay objects to be deleted', async () => ((await labelled(provider, exportId)).length === 0 ? true : undefined), { timeoutMs: 30_000 });
    expect(await labelled(provider, exportId)).toEqual([]);
    expect(await readObject(client, K8S.Namespace, namespace).then((ns) => (ns as { status?: { phase?: string } } | undefined)?.status?.phase ?? 'gone')).toMatch(/gone|Terminating/);
    // The claim itself stays: it is the provider's, and holds the archive.
    expect(await readObject(client, K8S.PersistentVolumeClaim, 'exports', provider)).toBeDefined();
  });

  it('says why the receiver does not run, starts no export Job until it listens, and removes the relay when the export is waived', async () => {
    await client.request({
      method: 'POST', path: collectionPath(K8S.PersistentVolumeClaim, provider),
      body: { metadata: { name: 'nowhere' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'no-such-class', resources: { requests: { storage: '1Gi' } } } },
    });
    const name = uniqueName('relay-stuck');
    tenants.push(name);
    const root = await mkdtemp(join(tmpdir(), 'relay-unused-'));
    const { namespace } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: [] }], { exportTarget: { persistentVolumeClaim: { namespace: provider, claimName: 'nowhere' } } });
    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { state: 'Terminated' } } });
    const stuck = await eventually('the termination to say why the receiver waits', async () => {
      const tenant = await readObject<{ status?: { termination?: { message?: string } } }>(client, API.Tenant, name);
      return tenant?.status?.termination?.message?.includes('not scheduled') ? tenant : undefined;
    }, { timeoutMs: 90_000 });
    expect(stuck.status?.termination?.message).toMatch(/waiting for the export receiver .* beside claim nowhere to listen: not scheduled: ./);
    const exportId = (await terminationRecord(client, operatorNamespace, name))?.spaces[0]?.exportId ?? '';
    expect(await readObject(client, JOB, exportJobName(exportId, 'export'), namespace)).toBeUndefined();
    expect(await labelled(provider, exportId)).toEqual([`Job/${relayNames(exportId).receiverJob}`, `NetworkPolicy/${relayNames(exportId).ingressPolicy}`, `Secret/${relayNames(exportId).receiverSecret}`, `Service/${relayNames(exportId).service}`]);

    // The provider gives up and waives the export: the relay beside the claim goes before anything is destroyed.
    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { exportOnTermination: false } } });
    await waitForTerminationPhase(client, name, 'Done');
    expect(await labelled(provider, exportId)).toEqual([]);
  });
});
