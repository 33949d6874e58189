/**
 * No destructive delete without an export, as kubectl users and GitOps tools meet it: the operator
 * runs its admission webhook on loopback (registered by URL), and `kubectl delete` of a BackupSpace
 * or an Endpoint that holds data, or `kubectl apply --prune` of a space that holds data, is refused
 * with the waiver annotation named; with the waiver the deletion proceeds. The space's finalizer
 * applies the same rule when admission is bypassed (tested in termination.test.ts, without webhook).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { CONTENT_TYPE } from '../../src/runtime/kube/client.ts';
import { K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { freePort } from '../harness/ports.ts';
import { createEndpoint, createObject, createReadyTenant, createSpace, ensureDatacenters, readObject, removeTenant } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { kubectl } from '../support/kubectl.ts';
import { clients, eventually, refused, uniqueName } from '../support/kube.ts';
import { space as spaceObject } from '../support/objects.ts';
import { OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-guard');
const VWC = 'tenant-backup-operator';
const WAIVER = 'tenantbackup.io/destroy-data-without-export';
const tenants: string[] = [];
let operator: OperatorProcess;

async function newTenant(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  tenants.push(name);
  return (await createReadyTenant(client, name, { quotas: { storage: '100Gi', spaces: 5, endpoints: 5 } })).namespace;
}

/** The operator counts a space's endpoints into its status: that is what shows it holds data. */
async function spaceWithEndpoint(namespace: string, space: string, endpoint: string): Promise<void> {
  await createSpace(client, space, namespace, { size: '5Gi', datacenter: 'it-mil1', replicas: 1 });
  await createEndpoint(client, endpoint, namespace, space);
  await eventually(`space ${space} to count its endpoint`, async () => ((await readObject<BackupSpace>(client, API.BackupSpace, space, namespace))?.status?.endpoints ?? 0) > 0 || undefined);
}

/** What the gateway would report after a backup (the kwok nodes run no gateway): bytes and a last backup. */
async function reportBackup(namespace: string, endpoint: string): Promise<void> {
  await client.request({
    method: 'PATCH',
    path: objectPath(API.Endpoint, endpoint, namespace, 'status'),
    body: { status: { bytesStored: 4096, stored: '4.0Ki', lastBackupTime: '2026-12-01T10:00:00Z' } },
    contentType: CONTENT_TYPE.merge,
  });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await createObject(client, K8S.Namespace, { metadata: { name: operatorNamespace } });
  const port = await freePort();
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--webhook-bind-address', `127.0.0.1:${port}`, '--webhook-url', `https://127.0.0.1:${port}`]);
  await operator.waitForLog('the webhook to be registered', (line) => line.msg === 'webhook configuration registered');
  await eventually('the API server to call the webhook', async () => {
    const { message } = await refused(createObject(client, API.BackupSpace, spaceObject('probe', 'default'), { dryRun: true }));
    return message.includes('admission webhook "validate.backupspaces.tenantbackup.io"') ? true : undefined;
  }, { timeoutMs: 30_000 });
});

afterAll(async () => {
  await operator?.stop();
  await client.request({ method: 'DELETE', path: objectPath(K8S.ValidatingWebhookConfiguration, VWC) }).catch(() => undefined);
  for (const name of tenants) await removeTenant(client, name);
});

describe('kubectl delete', () => {
  it('of a space that holds data is refused, naming the waiver; with the waiver it proceeds and the space is shredded', async () => {
    const namespace = await newTenant('guard-space');
    await spaceWithEndpoint(namespace, 'main', 'laptop');

    const refusal = await kubectl(kubeconfigPath, ['delete', 'backupspace', 'main', '-n', namespace, '--wait=false']);
    expect(refusal.code).not.toBe(0);
    expect(refusal.stderr).toContain('admission webhook "validate.backupspaces.tenantbackup.io" denied the request');
    expect(refusal.stderr).toContain(`space ${namespace}/main holds data (1 endpoint(s))`);
    expect(refusal.stderr).toContain(`${WAIVER}=true`);
    expect(await readObject(client, API.BackupSpace, 'main', namespace)).toBeDefined();
    expect(await readObject(client, K8S.Secret, 'main-key', namespace)).toBeDefined();

    expect((await kubectl(kubeconfigPath, ['annotate', 'backupspace', 'main', '-n', namespace, `${WAIVER}=true`])).code).toBe(0);
    const waived = await kubectl(kubeconfigPath, ['delete', 'backupspace', 'main', '-n', namespace, '--wait=false']);
    expect(waived.stderr).toBe('');
    expect(waived.code).toBe(0);
    await eventually('the space and its key to be gone', async () => (!(await readObject(client, API.BackupSpace, 'main', namespace)) && !(await readObject(client, K8S.Secret, 'main-key', namespace))) || undefined);
  });

  it('of an empty space proceeds at once', async () => {
    const namespace = await newTenant('guard-empty');
    await createSpace(client, 'empty', namespace, { size: '5Gi', datacenter: 'it-mil1', replicas: 1 });
    await eventually('a key', async () => (await readObject(client, K8S.Secret, 'empty-key', namespace)) ?? undefined);
    expect((await kubectl(kubeconfigPath, ['delete', 'backupspace', 'empty', '-n', namespace, '--wait=false'])).code).toBe(0);
  });

  it('of an endpoint that holds backups is refused, naming the waiver; with the waiver it proceeds', async () => {
    const namespace = await newTenant('guard-endpoint');
    await spaceWithEndpoint(namespace, 'main', 'server');
    await reportBackup(namespace, 'server');
    await eventually('the endpoint to show its backup', async () => (await readObject<Endpoint>(client, API.Endpoint, 'server', namespace))?.status?.lastBackupTime);

    const refusal = await kubectl(kubeconfigPath, ['delete', 'endpoint', 'server', '-n', namespace]);
    expect(refusal.code).not.toBe(0);
    expect(refusal.stderr).toContain('admission webhook "validate.endpoints.tenantbackup.io" denied the request');
    expect(refusal.stderr).toContain(`endpoint ${namespace}/server holds backups (4.0Ki stored, last backup 2026-12-01T10:00:00Z)`);
    expect(refusal.stderr).toContain(`${WAIVER}=true`);

    const before = (await readObject<Endpoint>(client, API.Endpoint, 'server', namespace))?.status?.repository;
    expect((await kubectl(kubeconfigPath, ['annotate', 'endpoint', 'server', '-n', namespace, `${WAIVER}=true`])).code).toBe(0);
    expect((await kubectl(kubeconfigPath, ['delete', 'endpoint', 'server', '-n', namespace])).code).toBe(0);
    expect(await readObject(client, API.Endpoint, 'server', namespace)).toBeUndefined();

    // A new Endpoint of the old name gets a repository of its own, never the old one's backups.
    await eventually('the old credentials to be collected', async () => ((await readObject(client, K8S.Secret, 'endpoint-server-credentials', namespace)) ? undefined : true));
    await createEndpoint(client, 'server', namespace, 'main');
    const after = await eventually('the new endpoint\'s repository', async () => (await readObject<Endpoint>(client, API.Endpoint, 'server', namespace))?.status?.repository);
    expect(before).toMatch(/^endpoints\/server\./);
    expect(after).toMatch(/^endpoints\/server\./);
    expect(after).not.toBe(before);
  });
});

describe('kubectl apply --prune', () => {
  it('of a space that holds data is refused with the waiver named; the space and its keys stay', async () => {
    const namespace = await newTenant('guard-prune');
    const manifest = (spaces: string[]) => spaces.map((name) => [
      'apiVersion: tenantbackup.io/v1alpha1',
      'kind: BackupSpace',
      `metadata: {name: ${name}, namespace: ${namespace}, labels: {app: prune-test}}`,
      'spec: {size: 5Gi, datacenter: it-mil1, replicas: 1}',
    ].join('\n')).join('\n---\n');
    const applied = await kubectl(kubeconfigPath, ['apply', '-f', '-'], manifest(['kept', 'pruned']));
    expect(applied.stderr).toBe('');
    await createEndpoint(client, 'pc', namespace, 'pruned');
    await eventually('space pruned to count its endpoint', async () => ((await readObject<BackupSpace>(client, API.BackupSpace, 'pruned', namespace))?.status?.endpoints ?? 0) > 0 || undefined);

    const prune = await kubectl(kubeconfigPath, ['apply', '--prune', '-l', 'app=prune-test', '--prune-allowlist=tenantbackup.io/v1alpha1/BackupSpace', '-f', '-'], manifest(['kept']));
    expect(prune.code).not.toBe(0);
    expect(prune.stderr).toContain(`space ${namespace}/pruned holds data`);
    expect(prune.stderr).toContain(`${WAIVER}=true`);
    expect(await readObject(client, API.BackupSpace, 'pruned', namespace)).toBeDefined();
    expect(await readObject(client, K8S.Secret, 'pruned-key', namespace)).toBeDefined();
  });
});
