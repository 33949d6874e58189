/**
 * What the termination tests share: tenants whose spaces hold real restic repositories (made by the
 * restic client on the host directory the operator's local export runner reads as the spaces'
 * volumes), the termination record as the API server holds it, and checks of the archives with the
 * ordinary tools a customer would use (sha256sum, tar, restic).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { API } from '../../src/api/refs.ts';
import type { Tenant } from '../../src/api/types.ts';
import { spaceObjectNames } from '../../src/controllers/labels.ts';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { parseRecord } from '../../src/controllers/tenant/termination-record.ts';
import type { TerminationRecord } from '../../src/controllers/tenant/termination.ts';
import { localClaimDir, localSpaceDir } from '../../src/controllers/tenant/termination-runner.ts';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { listAll } from '../../src/runtime/kube/list.ts';
import { K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, readObject } from '../support/cluster-objects.ts';
import { eventually } from '../support/kube.ts';

const exec = promisify(execFile);
export const RESTIC_PASSWORD = 'the-customers-own-repository-password';
export const EXPORT_CLAIM = { namespace: 'provider-exports', claimName: 'exports' };

async function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { ...options, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${command} is needed by this test and is not installed: apt-get install ${command === 'sha256sum' ? 'coreutils' : command}`, { cause: error });
    throw error;
  }
}

/** A real restic repository at `repository`, holding one snapshot of `files`. */
export async function resticBackup(repository: string, files: Record<string, string | Buffer>): Promise<string> {
  const source = await mkdtemp(join(tmpdir(), 'restic-source-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(source, name)), { recursive: true });
    await writeFile(join(source, name), content);
  }
  const env = { RESTIC_PASSWORD, RESTIC_REPOSITORY: repository, RESTIC_CACHE_DIR: join(tmpdir(), 'restic-cache') };
  await mkdir(dirname(repository), { recursive: true });
  await run('restic', ['init'], { env });
  await run('restic', ['backup', '--host', 'device', '.'], { env, cwd: source });
  return source;
}

export interface SpacePlan {
  name: string;
  datacenter: string;
  endpoints: string[];
}

/** A tenant with spaces and endpoints whose repositories hold real backups; returns each endpoint's source tree. */
/** `<space>/<endpoint>` → the tree it backed up and its repository path on the space. */
export type Sources = Map<string, { source: string; repository: string }>;

export async function tenantWithData(client: KubeClient, root: string, name: string, spaces: SpacePlan[], contract: Partial<NonNullable<Tenant['spec']['contract']>> = {}): Promise<{ namespace: string; sources: Sources }> {
  const { namespace } = await createReadyTenant(client, name, {
    quotas: { storage: '200Gi', spaces: 4, endpoints: 10 },
    contract: { state: 'Active', exportOnTermination: true, exportTarget: { persistentVolumeClaim: EXPORT_CLAIM }, ...contract },
  });
  const sources: Sources = new Map();
  for (const space of spaces) {
    await createSpace(client, space.name, namespace, { size: '10Gi', datacenter: space.datacenter, replicas: 1 });
    for (const endpoint of space.endpoints) await createEndpoint(client, endpoint, namespace, space.name);
    // The local runner reads the key material as the gateway gets it: wait for it to be rendered.
    const access = await eventually(`the gateway configuration of ${space.name} naming its endpoints`, async () => {
      const config = await readObject<V1Secret>(client, K8S.Secret, spaceObjectNames(space.name).configSecret, namespace);
      const text = secretField(config, 'access.json');
      const parsed = text ? JSON.parse(text) as GatewayAccessConfig : undefined;
      return parsed && space.endpoints.every((e) => parsed.endpoints.some((p) => p.name === e)) ? parsed : undefined;
    }, { timeoutMs: 60_000 });
    for (const endpoint of space.endpoints) {
      // Where the gateway would write this endpoint's repository, as the operator configured it.
      const repository = access.endpoints.find((e) => e.name === endpoint)?.repository ?? '';
      const source = await resticBackup(join(localSpaceDir(root, namespace, space.name), repository), { [`${endpoint}.txt`]: `backup of ${endpoint} in ${space.name}\n`, 'nested/blob.bin': Buffer.alloc(64 * 1024, endpoint.length) });
      sources.set(`${space.name}/${endpoint}`, { source, repository });
    }
  }
  return { namespace, sources };
}

export function claimDir(root: string): string {
  return localClaimDir(root, EXPORT_CLAIM.namespace, EXPORT_CLAIM.claimName);
}

/** The tenant's termination record, as the API server holds it (or undefined). */
export async function terminationRecord(client: KubeClient, operatorNamespace: string, tenant: string): Promise<TerminationRecord | undefined> {
  const { items } = await listAll<V1ConfigMap>(client, K8S.ConfigMap, { namespace: operatorNamespace, labelSelector: `tenantbackup.io/record=termination,tenantbackup.io/tenant=${tenant}` });
  return items[0] ? parseRecord(items[0]) : undefined;
}

export async function waitForTerminationPhase(client: KubeClient, name: string, phase: string, timeoutMs = 120_000): Promise<Tenant> {
  return eventually(`tenant ${name} to reach termination phase ${phase}`, async () => {
    const tenant = await readObject<Tenant>(client, API.Tenant, name);
    return tenant?.status?.termination?.phase === phase ? tenant : undefined;
  }, { timeoutMs });
}

/**
 * Checks an archive as a customer would: `sha256sum -c` on its .sha256, `tar -t`, the bag's own
 * manifests with `sha256sum -c`, and restic restoring each repository to the tree it backed up.
 */
export async function checkArchive(location: string, sources: Sources, space: string): Promise<{ entries: string[] }> {
  await run('sha256sum', ['-c', `${basename(location)}.sha256`], { cwd: dirname(location) });
  const entries = (await run('tar', ['-tf', location])).split('\n').filter(Boolean);
  const out = await mkdtemp(join(tmpdir(), 'export-check-'));
  await run('tar', ['-xf', location, '-C', out]);
  const [bag] = await readdir(out);
  if (!bag) throw new Error(`${location} holds no bag`);
  const bagDir = join(out, bag);
  await run('sha256sum', ['-c', 'manifest-sha256.txt'], { cwd: bagDir });
  await run('sha256sum', ['-c', 'tagmanifest-sha256.txt'], { cwd: bagDir });
  for (const [key, { source, repository }] of sources) {
    const [spaceName, endpoint] = key.split('/');
    if (spaceName !== space || !endpoint) continue;
    const restored = await mkdtemp(join(tmpdir(), 'restic-restore-'));
    const env = { RESTIC_PASSWORD, RESTIC_REPOSITORY: join(bagDir, 'data', repository), RESTIC_CACHE_DIR: join(tmpdir(), 'restic-cache') };
    await run('restic', ['restore', 'latest', '--target', restored], { env });
    for (const file of [`${endpoint}.txt`, 'nested/blob.bin']) {
      const [want, got] = await Promise.all([readFile(join(source, file)), readFile(join(restored, file))]);
      if (!want.equals(got)) throw new Error(`restic restored ${file} of ${key} with different bytes`);
    }
  }
  return { entries };
}
