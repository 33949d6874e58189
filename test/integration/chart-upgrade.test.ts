/**
 * CRD upgrades with the chart (issue 14, item 4), on a control plane of this file's own: the suite's
 * shared one has the CRDs installed by the harness, and deleting a CRD there would delete every other
 * file's objects. The previous chart (0.1.0, CRDs in crds/, which Helm never upgrades) is taken from
 * git as it was released and installed; objects are made under its CRDs; the upgrade to this chart
 * is refused until the CRDs are adopted, then — after the chart README's adoption commands, run as
 * they stand — changes every CRD in place (same uid, this version's schema) without touching an
 * object; `helm uninstall` keeps CRDs and objects, and a new install takes the kept CRDs back.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCustomResourceDefinitions } from '../../src/api/crd.ts';
import { API } from '../../src/api/refs.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { startCluster, stopCluster, type ClusterState } from '../harness/controlplane.ts';
import { createObject, readObject } from '../support/cluster-objects.ts';
import { helm, helmEnv } from '../support/helm.ts';
import { datacenter, endpoint, space, tenant } from '../support/objects.ts';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const chartPath = 'charts/tenant-backup-operator';
const chartDir = join(root, chartPath);

/**
 * The last release of the chart with its CRDs in crds/: the commit it was released from. Needs the
 * repository's history (a shallow clone fails here, saying so).
 */
const PREVIOUS_CHART = { version: '0.1.0', commit: 'b3da599b1ade9459a673ba100bdac4eebf6c4da0' };

const RELEASE = 'tenant-backup-operator';
const NAMESPACE = 'tenant-backup-system';
const generated = allCustomResourceDefinitions();
const crdNames = generated.map((crd) => crd.metadata?.name ?? '');

let cluster: ClusterState | undefined;
let client: KubeClient;
let kubeconfig = '';
let previousChart = '';

/** The chart directory as of the previous release, extracted from git into a temporary directory. */
async function extractPreviousChart(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chart-previous-'));
  const archive = join(dir, 'chart.tar');
  try {
    await exec('git', ['-C', root, 'archive', '--output', archive, PREVIOUS_CHART.commit, chartPath]);
  } catch (error) {
    throw new Error(`git archive ${PREVIOUS_CHART.commit} failed: this test needs the repository's history (not a shallow clone): ${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error });
  }
  await exec('tar', ['-xf', archive, '-C', dir]);
  return join(dir, chartPath);
}

/** The shell block the chart README gives for the one-time adoption, exactly as written there. */
async function readmeAdoptionBlock(): Promise<string> {
  const readme = await readFile(join(chartDir, 'README.md'), 'utf8');
  const match = /<!-- crd-adoption[^>]*-->\n```sh\n([\s\S]*?)\n```/.exec(readme);
  if (!match?.[1]) throw new Error('the chart README has no `<!-- crd-adoption -->` sh block');
  return match[1];
}

const withKubeconfig = (args: string[]) => [...args, '--kubeconfig', kubeconfig, '--namespace', NAMESPACE];

async function crd(name: string): Promise<V1CustomResourceDefinition> {
  const found = await readObject<V1CustomResourceDefinition>(client, K8S.CustomResourceDefinition, name);
  if (!found) throw new Error(`CRD ${name} is gone`);
  return found;
}

/** What of a CRD this version defines: its versions (schema, printer columns, subresources) and names. */
const definition = (object: Pick<V1CustomResourceDefinition, 'spec'>) => ({ versions: object.spec.versions, names: object.spec.names });

interface Stored { ref: ResourceRef; name: string; namespace?: string }
interface Snapshot { uid?: string; resourceVersion?: string; generation?: number; spec: unknown; status: unknown }

const objects: Stored[] = [
  { ref: API.Datacenter, name: 'it-upg1' },
  { ref: API.Tenant, name: 'upgrade' },
  { ref: API.BackupSpace, name: 'vault', namespace: 'tenant-upgrade' },
  { ref: API.Endpoint, name: 'laptop', namespace: 'tenant-upgrade' },
];

/** The part of an OpenAPI schema defaulting reads, with `default` as the API server spells it (client-node's type says `_default`). */
interface Schema { default?: unknown; properties?: Record<string, Schema>; items?: Schema }

/**
 * `value` as the API server serves it under `schema`: it applies a CRD's defaults when it reads a
 * stored object, without rewriting it (the resourceVersion stays), as it does on write.
 */
function withDefaults(value: unknown, schema: Schema | undefined): unknown {
  if (!schema || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => withDefaults(item, schema.items));
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && property.default !== undefined) out[key] = structuredClone(property.default);
    if (out[key] !== undefined) out[key] = withDefaults(out[key], property);
  }
  return out;
}

/** The snapshot as this version's CRDs serve it: the same stored objects, with the new defaults. */
function servedByThisVersion(snapshots: Snapshot[]): Snapshot[] {
  return snapshots.map((stored, index) => {
    const { ref } = objects[index] as Stored;
    const crd = generated.find((g) => g.spec.names.plural === ref.plural && g.spec.group === ref.group);
    const schema = (crd?.spec.versions.find((v) => v.storage)?.schema?.openAPIV3Schema as Schema | undefined)?.properties;
    return { ...stored, spec: withDefaults(stored.spec, schema?.spec), status: withDefaults(stored.status, schema?.status) };
  });
}

async function snapshot(): Promise<Snapshot[]> {
  return Promise.all(objects.map(async ({ ref, name, namespace }) => {
    const object = await readObject<{ metadata: { uid?: string; resourceVersion?: string; generation?: number }; spec: unknown; status?: unknown }>(client, ref, name, namespace);
    if (!object) throw new Error(`${ref.kind} ${namespace ? `${namespace}/` : ''}${name} is gone`);
    return { uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion, generation: object.metadata.generation, spec: object.spec, status: object.status };
  }));
}

beforeAll(async () => {
  previousChart = await extractPreviousChart();
  // No simulated nodes: nothing here runs; the operator's pods stay Pending, so no operator touches the objects.
  cluster = await startCluster({ name: `chart-upgrade-${process.pid}`, clustersDir: await mkdtemp(join(tmpdir(), 'chart-upgrade-')), seed: false });
  kubeconfig = cluster.kubeconfig;
  client = KubeClient.load(kubeconfig);
});

afterAll(async () => {
  if (cluster) await stopCluster(cluster.dir, { keepLogs: process.env.KEEP_CLUSTER_LOGS === '1' });
});

describe('upgrading the chart from 0.1.0 (CRDs in crds/)', () => {
  let uids: Record<string, string | undefined> = {};
  let before: Snapshot[] = [];

  it('installs 0.1.0, whose CRDs Helm created from crds/ and which differ from this version\'s', async () => {
    const previous = parseYaml(await readFile(join(previousChart, 'Chart.yaml'), 'utf8')) as { version: string };
    const current = parseYaml(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')) as { version: string };
    expect(previous.version).toBe(PREVIOUS_CHART.version);
    expect(current.version).not.toBe(PREVIOUS_CHART.version);

    await helm(withKubeconfig(['install', RELEASE, previousChart, '--create-namespace', '--set', 'image.repository=registry.invalid/tenant-backup-operator']));
    const installed = await Promise.all(crdNames.map(crd));
    uids = Object.fromEntries(installed.map((c) => [c.metadata?.name, c.metadata?.uid]));
    for (const c of installed) expect(c.metadata?.annotations?.['meta.helm.sh/release-name'], c.metadata?.name).toBeUndefined();
    // Something to upgrade: at least one CRD of this version is not what 0.1.0 installed (else this file proves nothing; move PREVIOUS_CHART on).
    const changed = installed.filter((c) => JSON.stringify(definition(c)) !== JSON.stringify(definition(generated.find((g) => g.metadata?.name === c.metadata?.name) ?? c)));
    expect(changed.map((c) => c.metadata?.name), 'CRDs this version changes').not.toEqual([]);

    await createObject(client, API.Datacenter, datacenter('it-upg1', 'IT'));
    await createObject(client, API.Tenant, tenant('upgrade'));
    await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: 'tenant-upgrade' } } });
    await createObject(client, API.BackupSpace, space('vault', 'tenant-upgrade', { datacenter: 'it-upg1' }));
    await createObject(client, API.Endpoint, endpoint('laptop', 'tenant-upgrade', 'vault'));
    before = await snapshot();
  });

  it('is refused until the CRDs are adopted: Helm does not take over objects it did not create', async () => {
    await expect(helm(withKubeconfig(['upgrade', RELEASE, chartDir, '--reset-then-reuse-values']))).rejects.toThrow(/invalid ownership metadata/);
    for (const name of crdNames) expect((await crd(name)).metadata?.annotations?.['meta.helm.sh/release-name'], name).toBeUndefined();
  });

  it('after the README\'s adoption commands, upgrades every CRD in place and touches no object', async () => {
    const block = await readmeAdoptionBlock();
    await exec('bash', ['-euo', 'pipefail', '-c', block], { cwd: root, env: helmEnv({ KUBECONFIG: kubeconfig, RELEASE, NAMESPACE }), maxBuffer: 16 * 1024 * 1024 })
      .catch((error: unknown) => { throw new Error(`the README's adoption block failed:\n${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error }); });

    expect((await helm(withKubeconfig(['status', RELEASE]))).stdout).toMatch(/REVISION: 2[\s\S]*STATUS: deployed|STATUS: deployed[\s\S]*REVISION: 2/);
    const manifest = (await helm(withKubeconfig(['get', 'manifest', RELEASE]))).stdout;
    for (const name of crdNames) {
      const upgraded = await crd(name);
      expect(upgraded.metadata?.uid, `${name} is the same object`).toBe(uids[name]);
      expect(definition(upgraded), `${name} carries this version's schema`).toEqual(definition(generated.find((g) => g.metadata?.name === name) ?? upgraded));
      expect(upgraded.metadata?.annotations).toMatchObject({ 'meta.helm.sh/release-name': RELEASE, 'meta.helm.sh/release-namespace': NAMESPACE, 'helm.sh/resource-policy': 'keep' });
      expect(manifest).toContain(`name: ${name}\n`);
    }
    // Same objects, same versions: the schema change rewrote nothing stored; the API server serves
    // them with this version's defaults (a field 0.1.0 did not have reads as its default).
    expect(await snapshot()).toEqual(servedByThisVersion(before));
  });

  it('keeps the CRDs and the objects on helm uninstall, and a new install takes the kept CRDs back', async () => {
    await helm(withKubeconfig(['uninstall', RELEASE, '--wait']));
    expect((await helm(withKubeconfig(['list']))).stdout).not.toContain(RELEASE);
    for (const name of crdNames) expect((await crd(name)).metadata?.uid, name).toBe(uids[name]);
    expect(await snapshot()).toEqual(servedByThisVersion(before));

    await helm(withKubeconfig(['install', RELEASE, chartDir, '--set', 'image.repository=registry.invalid/tenant-backup-operator']));
    for (const name of crdNames) expect((await crd(name)).metadata?.uid, name).toBe(uids[name]);
    expect(await snapshot()).toEqual(servedByThisVersion(before));
  });
});
