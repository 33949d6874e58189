/**
 * Unsealing reaches every replica, with what the operator really renders (issue 12 item 9): on the
 * real API server the operator makes the space's headless peers Service, its peer NetworkPolicy and
 * the peer token in the gateway config Secret; two real gateway processes run on those files (as
 * two pods mount the config Secret and the volume) and find each other with --peers. The space's
 * status follows every replica ("1 of 2 gateway replicas sealed"), an unseal through one replica
 * unseals both, and the real restic client is served by both.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { freePorts } from '../harness/ports.ts';
import { condition, createCustomerCustodySpace, ensureDatacenters, eventualSecret, mergePatch, readObject, removeTenant, requiredSecretField } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { GatewayFixture, expectSuccess, restic, type Secrets } from './gateway-fixture.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const tenant = uniqueName('peers');
const namespace = `tenant-${tenant}`;
const CUSTOMER_PASSWORD = 'correct-horse-battery-staple-peers';
// A datacenter no other test gives a loopback pool: the certificate the operator issues names 127.0.0.1.
const DATACENTER = 'fr-par1';

let operator: OperatorProcess;
let work: string;
const replicas: GatewayFixture[] = [];

const decode = requiredSecretField;
const secret = (name: string): Promise<V1Secret> => eventualSecret(client, namespace, name);

async function spaceWhere(what: string, test: (space: BackupSpace) => boolean): Promise<BackupSpace> {
  return eventually(what, async () => {
    const space = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
    return space && test(space) ? space : undefined;
  }, { timeoutMs: 60_000 });
}

async function unsealThrough(replica: GatewayFixture): Promise<{ status: number; text: string }> {
  const token = await replica.signIn('giulia', replica.totpCode('giulia'));
  return replica.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password: CUSTOMER_PASSWORD }) });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await mergePatch(client, API.Datacenter, DATACENTER, undefined, { spec: { addressPool: { addresses: ['127.0.0.1'] } } });
  work = await mkdtemp(join(tmpdir(), 'gateway-peers-operator-'));
  const ports = await freePorts(2);
  const operatorNamespace = uniqueName('tb-system');
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--report-interval', '2s', '--gateway-address', `${namespace}/vault=127.0.0.1:${ports[0]}`]);
  await createCustomerCustodySpace(client, { tenant, country: 'FR', datacenter: DATACENTER, password: CUSTOMER_PASSWORD, replicas: 2 });
  await eventually('the endpoint and the peer token in the rendered configuration', async () => {
    const config = await secret('vault-gateway-config');
    return decode(config, 'access.json').includes('"laptop"') && secretField(config, 'peer.token') ? true : undefined;
  });

  // What the Deployment mounts, as files: the config Secret, and tls.crt, tls.key and ca.crt of the TLS Secret.
  const configDir = join(work, 'config');
  await mkdir(configDir, { recursive: true });
  await mkdir(join(work, 'data'), { recursive: true });
  const config = await secret('vault-gateway-config');
  const tls = await secret('vault-gateway-tls');
  for (const key of Object.keys(config.data ?? {})) await writeFile(join(configDir, key), decode(config, key));
  for (const key of ['tls.crt', 'tls.key', 'ca.crt']) await writeFile(join(configDir, key), decode(tls, key));
  await writeFile(join(work, 'ca.crt'), decode(tls, 'ca.crt'));

  const enrolment = await secret('user-giulia-2fa');
  const secrets: Secrets = {
    endpoints: { laptop: decode(await secret('endpoint-laptop-credentials'), 'password') },
    maintenance: { username: 'maintenance', secret: decode(await secret('vault-maintenance'), 'password') },
    reportToken: decode(await secret('vault-report-token'), 'password'),
    users: { giulia: { password: decode(enrolment, 'password'), totpSecret: decode(enrolment, 'totpSecret') } },
    customerPassword: CUSTOMER_PASSWORD,
    // Customer custody: the operator never had the key in the clear, so neither has the test.
    dataKey: Buffer.alloc(0),
    peerToken: decode(config, 'peer.token'),
  };
  const access = JSON.parse(decode(config, 'access.json')) as GatewayAccessConfig;
  const first = await GatewayFixture.onConfig(work, access, secrets, { port: ports[0], args: ['--peers', ports.map((p) => `127.0.0.1:${p}`).join(',')] });
  replicas.push(first, await first.replica({ port: ports[1] }));
});

afterAll(async () => {
  for (const replica of [...replicas].reverse()) await replica.close();
  await operator?.stop();
  await removeTenant(client, tenant);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a customer-custody space with two gateway replicas, as the operator renders it', () => {
  it('has a headless peers Service listing unready pods, and a peer policy for its own gateways only', async () => {
    const service = await eventually('the peers Service', () => readObject<{ spec: { clusterIP: string; publishNotReadyAddresses: boolean; selector: Record<string, string> } }>(client, K8S.Service, 'vault-gateway-peers', namespace));
    expect(service.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: { 'app.kubernetes.io/instance': 'vault', 'app.kubernetes.io/component': 'gateway' } });
    const policy = await eventually('the peer NetworkPolicy', () => readObject<{ spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[] } }>(client, K8S.NetworkPolicy, 'vault-gateway-peers', namespace));
    expect(policy.spec.podSelector.matchLabels).toMatchObject({ 'app.kubernetes.io/instance': 'vault' });
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const deployment = await eventually('the gateway Deployment', () => readObject<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>(client, K8S.Deployment, 'vault-gateway', namespace));
    expect(deployment.spec.template.spec.containers[0]?.args).toEqual(expect.arrayContaining(['--peers-dns', 'vault-gateway-peers']));
  });

  it('says both replicas are sealed, then "1 of 2" when one is unsealed alone, then unseals both through the other', async () => {
    const [first, second] = replicas as [GatewayFixture, GatewayFixture];
    const sealed = await spaceWhere('both replicas reported sealed', (s) => condition(s, 'Sealed')?.message.includes('2 of 2 gateway replicas sealed') === true);
    expect(sealed.status?.phase).toBe('Sealed');

    // The second replica down: the unseal through the first still succeeds, for the first.
    expect(await second.stopProcess()).toBe(0);
    expect((await unsealThrough(first)).status).toBe(200);
    await second.startProcess();
    const half = await spaceWhere('one of two replicas reported sealed', (s) => condition(s, 'Sealed')?.message.includes('1 of 2 gateway replicas sealed') === true);
    expect(half.status?.phase).toBe('Sealed');
    expect(condition(half, 'Sealed')?.reason).toBe('ReplicasSealed');

    // The next unseal, through the replica that was sealed, reaches both.
    const answer = await unsealThrough(second);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ state: 'ready', replicas: { total: 2, ready: 2 } });
    const ready = await spaceWhere('both replicas reported unsealed', (s) => s.status?.phase === 'Ready');
    expect(condition(ready, 'Sealed')).toMatchObject({ status: 'False', message: expect.stringContaining('all 2 gateway replicas') });
  });

  it('serves the real restic client through both replicas', async () => {
    const [first, second] = replicas as [GatewayFixture, GatewayFixture];
    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'notes.txt'), 'peers e2e\n'.repeat(10_000));
    expectSuccess(await restic(second, second.repositoryUrl('laptop'), ['init']), 'init through the second replica');
    expectSuccess(await restic(first, first.repositoryUrl('laptop'), ['backup', source]), 'backup through the first replica');
    const listed = expectSuccess(await restic(second, second.repositoryUrl('laptop'), ['snapshots', '--json', '--no-lock']), 'snapshots through the second replica');
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
  });

  it('leaves the password and the peer token out of the space\'s status, events and the operator log', async () => {
    const peerToken = (replicas[0] as GatewayFixture).secrets.peerToken;
    const everything = JSON.stringify([
      await readObject(client, API.BackupSpace, 'vault', namespace),
      await client.request({ method: 'GET', path: collectionPath(K8S.Event, namespace) }),
    ]);
    const logs = await operator.logText();
    for (const value of [CUSTOMER_PASSWORD, peerToken]) {
      expect(everything).not.toContain(value);
      expect(logs).not.toContain(value);
      for (const replica of replicas) expect(replica.logs).not.toContain(value);
    }
  });
});
