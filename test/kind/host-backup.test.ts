/**
 * A device outside the cluster: the real restic client on the host backs up to a fixed-address space
 * (S8) and restores byte-identical, through the space's LoadBalancer Service, the certificate checked
 * against the address. kind has no load-balancer implementation, so the test plays MetalLB's part — it
 * publishes the address in the Service's status and routes it from the host to the node of the
 * gateway pod; kube-proxy, the NetworkPolicies and the gateway do the rest. The Service keeps the
 * client's address (externalTrafficPolicy Local), so the tenant's policy sees a client from outside
 * the cluster, as an internet device is.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, readObject } from '../support/cluster-objects.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { client, kubectlOk, readyGatewayPods, readySpaceAndEndpoint, secretValue } from './support.ts';

const run = promisify(execFile);
const tenant = uniqueName('kind-host');
let namespace: string;
let address: string;
let dir: string;
let routed = false;

beforeAll(async () => {
  await kubectlOk(['apply', '-f', `${import.meta.dirname}/../../examples/01-datacenters.yaml`]);
  ({ namespace } = await createReadyTenant(client, tenant, {
    residency: { countries: ['IT'] },
    quotas: { storage: '10Gi', spaces: 1, endpoints: 2 },
    security: { twoFactor: 'Optional', keyCustody: 'provider' },
  }));
  await createSpace(client, 'office', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1, fixedAddress: {} });
  await createEndpoint(client, 'nas', namespace, 'office', { kind: 'Server', os: 'Linux' });
  const { space } = await readySpaceAndEndpoint(namespace, 'office', 'nas');
  address = space.status?.address ?? '';
  expect(address).toMatch(/^203\.0\.113\.\d+$/);
  dir = await mkdtemp(join(tmpdir(), 'kind-host-backup-'));
}, 600_000);

afterAll(async () => {
  if (routed) await run('ip', ['route', 'del', `${address}/32`]).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What a load balancer does for the Service: announce its address and carry it to a node with a ready gateway. */
async function announce(): Promise<void> {
  const service = `office-gateway`;
  await kubectlOk(['patch', 'service', service, '--namespace', namespace, '--subresource=status', '--type=merge',
    '--patch', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: address }] } } })]);
  const [pod] = await eventually('a ready gateway pod', async () => {
    const ready = await readyGatewayPods(namespace, 'office');
    return ready.length ? ready : undefined;
  }, { timeoutMs: 240_000 }) as V1Pod[];
  const node = pod?.status?.hostIP;
  if (!node) throw new Error('the gateway pod has no host IP');
  await run('ip', ['route', 'replace', `${address}/32`, 'via', node]);
  routed = true;
}

describe('a fixed-address space reached from outside the cluster', () => {
  it('exposes its address through a LoadBalancer Service that keeps the client\'s address', async () => {
    const service = await readObject<V1Service>(client, K8S.Service, 'office-gateway', namespace);
    expect(service?.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerIP: address, externalTrafficPolicy: 'Local' });
    const space = await readObject<BackupSpace>(client, API.BackupSpace, 'office', namespace);
    expect(space?.status?.address).toBe(address);
  });

  it('takes a backup by restic on the host through that address and restores it byte-identical', async () => {
    await announce();
    const repository = await secretValue(namespace, 'endpoint-nas-credentials', 'repository');
    const username = await secretValue(namespace, 'endpoint-nas-credentials', 'username');
    const password = await secretValue(namespace, 'endpoint-nas-credentials', 'password');
    await writeFile(join(dir, 'ca.crt'), await secretValue(namespace, 'office-gateway-tls', 'ca.crt'));
    // A fixed-address space hands its devices the repository on that address, reachable from outside.
    const url = new URL(repository.replace(/^rest:/, ''));
    expect(url.hostname).toBe(address);
    url.username = encodeURIComponent(username);
    url.password = encodeURIComponent(password);
    const repo = `rest:${url.toString()}`;
    const source = join(dir, 'source');
    await run('mkdir', ['-p', join(source, 'sub')]);
    await run('sh', ['-c', `head -c 2097152 /dev/urandom > '${join(source, 'random.bin')}' && date > '${join(source, 'sub', 'note.txt')}'`]);
    // restic 0.14 (Debian's) reads neither the CA nor REST credentials from its environment: flags and URL.
    const env = { ...process.env, RESTIC_PASSWORD: 'host-client-side-password', RESTIC_REPOSITORY: repo };
    const options = ['--cacert', join(dir, 'ca.crt'), '--cache-dir', join(dir, 'cache')];
    const restic = (args: string[]) => eventually(`restic ${args[0]} from the host`, async () => {
      // kube-proxy programs the announced address on the node a moment after the status patch.
      try {
        return (await run('restic', [...options, ...args], { env, timeout: 120_000 })).stdout;
      } catch (error) {
        const text = String((error as { stderr?: string }).stderr ?? error);
        if (/connection refused|i\/o timeout|no route|connection reset/i.test(text)) return undefined;
        // The repository URL (restic 0.14 has no other way to take REST credentials) carries the
        // password, and so does the caught error: the message is redacted and the cause left out.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(`restic ${args.join(' ')} failed: ${text.replaceAll(password, '<password>')}`);
      }
    }, { timeoutMs: 120_000, intervalMs: 2000 });
    await restic(['init']);
    await restic(['backup', source]);
    await restic(['restore', 'latest', '--target', join(dir, 'restore')]);
    for (const file of ['random.bin', join('sub', 'note.txt')]) {
      expect((await readFile(join(dir, 'restore', source, file))).equals(await readFile(join(source, file)))).toBe(true);
    }
  });
});
