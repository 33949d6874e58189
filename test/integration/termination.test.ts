/**
 * Termination end to end on the real control plane, with the operator as a real process and its
 * local export runner (the kwok nodes run no container; the operator reads the spaces' volumes as
 * host directories, as the gateway tests run the gateway as a host process). Spaces hold real restic
 * repositories; the archives are checked with sha256sum, tar and restic.
 */
import type { V1Namespace, V1Secret } from '@kubernetes/client-node';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Tenant } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { listAll } from '../../src/runtime/kube/list.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { mergePatch, readObject, removeTenant } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { ensureDatacenters } from '../support/cluster-objects.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { checkArchive, claimDir, tenantWithData, terminationRecord, waitForTerminationPhase } from './termination-fixture.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-term');
const tenants: string[] = [];
let root: string;
let operator: OperatorProcess;

async function tenantLeftovers(namespace: string): Promise<string[]> {
  const ns = await readObject<V1Namespace>(client, K8S.Namespace, namespace);
  const spaces = (await listAll<BackupSpace>(client, API.BackupSpace, { namespace })).items;
  const secrets = (await listAll<V1Secret>(client, K8S.Secret, { namespace })).items;
  const claims = (await listAll<{ metadata: { name: string } }>(client, K8S.PersistentVolumeClaim, { namespace })).items;
  return [
    ...(ns ? [`Namespace/${namespace}`] : []),
    ...spaces.map((s) => `BackupSpace/${s.metadata.name}`),
    ...secrets.map((s) => `Secret/${s.metadata?.name}`),
    ...claims.map((c) => `PersistentVolumeClaim/${c.metadata.name}`),
  ];
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  root = await mkdtemp(join(tmpdir(), 'termination-volumes-'));
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--export-runner', 'local', '--export-local-root', root]);
});

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator?.stop();
});

describe('a Terminated contract', () => {
  it('suspends, exports every space, verifies, shreds, deletes everything, and stays as the record', async () => {
    const name = uniqueName('ended');
    tenants.push(name);
    const { namespace, sources } = await tenantWithData(client, root, name, [
      { name: 'main', datacenter: 'it-mil1', endpoints: ['laptop', 'server'] },
      { name: 'archive', datacenter: 'it-rom1', endpoints: ['nas'] },
    ]);
    const keyIds = await Promise.all(['main', 'archive'].map(async (s) => (await eventually(`key id of ${s}`, async () => (await readObject<BackupSpace>(client, API.BackupSpace, s, namespace))?.status?.keyId)) ?? ''));

    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { state: 'Terminated' } } });
    const done = await waitForTerminationPhase(client, name, 'Done');

    // Status: every space exported and verified, phase Terminated, Ready with reason Terminated.
    expect(done.status?.phase).toBe('Terminated');
    expect(done.status?.termination).toMatchObject({ phase: 'Done', exportVerified: true });
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Terminated' });
    expect(done.metadata.finalizers).toContain('tenantbackup.io/tenant-protection');

    // The record: exported where, size, digest, verified when; destroyed key ids and objects.
    const record = await terminationRecord(client, operatorNamespace, name);
    expect(record?.phase).toBe('Done');
    expect(record?.waiver).toBeUndefined();
    expect(record?.spaces.map((s) => s.name).sort()).toEqual(['archive', 'main']);
    expect([...(record?.destroyed.keyIds ?? [])].sort()).toEqual([...keyIds].sort());
    for (const space of record?.spaces ?? []) {
      expect(space.location).toMatch(new RegExp(`^${claimDir(root)}/.+\\.tar$`));
      expect(space.sha256).toMatch(/^[0-9a-f]{64}$/);
      // Verified after it was exported, destroyed after it was verified.
      expect(Date.parse(space.verifiedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(space.exportedAt ?? '') - 1000);
      // The record's own times are whole seconds (as Kubernetes writes times); the export's carry milliseconds.
      expect(Date.parse(record?.destroyed.at ?? '')).toBeGreaterThanOrEqual(Math.floor(Date.parse(space.verifiedAt ?? '') / 1000) * 1000);
      const { entries } = await checkArchive(space.location ?? '', sources, space.name);
      expect(entries.some((e) => e.endsWith('/bagit.txt'))).toBe(true);
      expect(entries.some((e) => e.endsWith('/manifest.json'))).toBe(true);
    }
    expect(record?.destroyed.objects).toEqual(expect.arrayContaining([`Secret/${namespace}/main-key`, `Secret/${namespace}/archive-key`, `Namespace/${namespace}`]));
    // One archive (and its .sha256) per space, no more.
    expect((await readdir(claimDir(root))).filter((f) => f.endsWith('.tar')).length).toBe(2);

    // Nothing of the tenant is left in the cluster.
    expect(await tenantLeftovers(namespace)).toEqual([]);
    // And the operator does not build it again.
    await new Promise((done) => setTimeout(done, 3000));
    expect(await tenantLeftovers(namespace)).toEqual([]);
  });

  it('with a future end date keeps the service running: nothing is exported or destroyed yet', async () => {
    const name = uniqueName('later');
    tenants.push(name);
    const { namespace } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: ['pc'] }]);
    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { state: 'Terminated', endDate: '2099-12-31' } } });
    await new Promise((done) => setTimeout(done, 3000));
    const tenant = await readObject<Tenant>(client, API.Tenant, name);
    expect(tenant?.status?.termination).toBeUndefined();
    expect(tenant?.status?.conditions?.find((c) => c.type === 'TerminationScheduled')).toMatchObject({ status: 'True', reason: 'EndDate' });
    expect(await terminationRecord(client, operatorNamespace, name)).toBeUndefined();
    expect(await readObject(client, K8S.Secret, 'main-key', namespace)).toBeDefined();
    // Service runs: client ingress stays open and the endpoint is let in.
    expect(await readObject(client, K8S.NetworkPolicy, 'allow-backup-clients', namespace)).toBeDefined();
    const config = await readObject<V1Secret>(client, K8S.Secret, 'main-gateway-config', namespace);
    expect(JSON.parse(Buffer.from(config?.data?.['access.json'] ?? '', 'base64').toString('utf8')).endpoints).toMatchObject([{ name: 'pc', enabled: true }]);
  });
});

describe('a deleted tenant', () => {
  it('goes the same way, and its finalizer is released at the end; the record outlives it', async () => {
    const name = uniqueName('deleted');
    const { namespace, sources } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: ['laptop'] }]);
    const uid = (await readObject<Tenant>(client, API.Tenant, name))?.metadata.uid;
    await client.request({ method: 'DELETE', path: objectPath(API.Tenant, name) });
    await eventually('the tenant to be released', async () => ((await readObject(client, API.Tenant, name)) ? undefined : true), { timeoutMs: 120_000 });
    const record = await terminationRecord(client, operatorNamespace, name);
    expect(record).toMatchObject({ phase: 'Done', trigger: 'TenantDeleted', tenant: { name, uid } });
    const [space] = record?.spaces ?? [];
    expect(space?.verifiedAt).toBeDefined();
    await checkArchive(space?.location ?? '', sources, 'main');
    expect(await tenantLeftovers(namespace)).toEqual([]);
  });

  it('with the export waived is destroyed without an export, and the record says it was waived', async () => {
    const name = uniqueName('waived');
    const { namespace } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: ['laptop'] }], { exportOnTermination: false });
    const before = (await readdir(claimDir(root)).catch(() => [])).length;
    await client.request({ method: 'DELETE', path: objectPath(API.Tenant, name) });
    await eventually('the tenant to be released', async () => ((await readObject(client, API.Tenant, name)) ? undefined : true), { timeoutMs: 120_000 });
    const record = await terminationRecord(client, operatorNamespace, name);
    expect(record?.waiver).toEqual({ field: 'spec.contract.exportOnTermination: false', at: expect.any(String) });
    expect(record?.spaces[0]?.sha256).toBeUndefined();
    expect(record?.destroyed.objects).toContain(`Secret/${namespace}/main-key`);
    expect((await readdir(claimDir(root)).catch(() => [])).length).toBe(before);
    expect(await tenantLeftovers(namespace)).toEqual([]);
  });
});

describe('a space deleted while admission is bypassed (no webhook)', () => {
  it('keeps its keys and data, Stalled with the waiver named, until the deletion is waived', async () => {
    const name = uniqueName('bypass');
    tenants.push(name);
    const { namespace } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: ['laptop'] }]);
    await eventually('the space to count its endpoint', async () => ((await readObject<BackupSpace>(client, API.BackupSpace, 'main', namespace))?.status?.endpoints ?? 0) > 0 || undefined);
    await client.request({ method: 'DELETE', path: objectPath(API.BackupSpace, 'main', namespace) });
    const stalled = await eventually('the deletion to be refused by the finalizer', async () => {
      const space = await readObject<BackupSpace>(client, API.BackupSpace, 'main', namespace);
      return space?.status?.conditions?.find((c) => c.type === 'Stalled' && c.reason === 'DeletionRefused') ? space : undefined;
    });
    expect(stalled.status?.conditions?.find((c) => c.type === 'Stalled')?.message).toContain('tenantbackup.io/destroy-data-without-export=true');
    expect(await readObject(client, K8S.Secret, 'main-key', namespace)).toBeDefined();
    await mergePatch(client, API.BackupSpace, 'main', namespace, { metadata: { annotations: { 'tenantbackup.io/destroy-data-without-export': 'true' } } });
    await eventually('the waived space and its key to be gone', async () => (!(await readObject(client, API.BackupSpace, 'main', namespace)) && !(await readObject(client, K8S.Secret, 'main-key', namespace))) || undefined);
  });
});
