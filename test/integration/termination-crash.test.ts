/**
 * Crash safety of termination: 30 tenants (the trials) are terminated at once — half by a Terminated
 * contract, half by deletion — while the operator process is killed with SIGKILL, first the moment
 * any termination record enters each phase (every step boundary), then at seeded random points, and
 * restarted each time. A watcher checks throughout that no space lost its key before its export was
 * verified. At the end every trial must be Done with a verified export, exactly one archive per
 * space (the one the record names, by digest), restic able to restore it, and nothing of the tenant
 * left in the cluster. The seed is printed; CRASH_SEED=<n> replays a run.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import type { TerminationPhase, TerminationRecord } from '../../src/controllers/tenant/termination.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { listAll } from '../../src/runtime/kube/list.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { mergePatch, readObject, removeTenant } from '../support/cluster-objects.ts';
import { ensureDatacenters } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, sleep, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { checkArchive, claimDir, tenantWithData, type Sources } from './termination-fixture.ts';
import { parseRecord } from '../../src/controllers/tenant/termination-record.ts';

const TRIALS = 30;
/** The trials' tenant names: uniqueName(`crash<i>`). */
const TRIAL_NAME = /^crash\d+-/;
const RANDOM_KILLS = 12;
const SEED = Number(process.env.CRASH_SEED ?? 20261202);
const BOUNDARIES: TerminationPhase[] = ['Suspending', 'Exporting', 'Verifying', 'Shredding', 'Deleting', 'Done'];

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-crash');
let root: string;
let operator: OperatorProcess | undefined;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function start(): Promise<OperatorProcess> {
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--no-leader-elect', '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--export-runner', 'local', '--export-local-root', root]);
  return operator;
}

async function kill(): Promise<void> {
  await operator?.stop('SIGKILL');
  operator = undefined;
}

async function records(): Promise<Map<string, TerminationRecord>> {
  const { items } = await listAll<{ metadata?: { name?: string }; data?: Record<string, string> }>(client, K8S.ConfigMap, { namespace: operatorNamespace, labelSelector: 'tenantbackup.io/record=termination' });
  // Only this test's trials: the operator watches every tenant, so tenants of a test file running beside
  // this one (termination.test.ts) get records here too.
  return new Map(items.map((c) => parseRecord(c)).filter((record) => TRIAL_NAME.test(record.tenant.name)).map((record) => [record.tenant.name, record]));
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  root = await mkdtemp(join(tmpdir(), 'termination-crash-'));
  await start();
}, 600_000);

afterAll(async () => {
  await kill();
});

describe('termination under SIGKILL', () => {
  it(`ends ${TRIALS} trials verified, then cleanly torn down: never a deletion before verification, never two exports of a space`, async () => {
    console.log(`termination crash test: seed ${SEED} (CRASH_SEED=${SEED} replays it), ${TRIALS} trials`);
    const random = seeded(SEED);
    const trials: { name: string; namespace: string; sources: Sources; deleted: boolean }[] = [];
    for (let batch = 0; batch < TRIALS; batch += 5) {
      trials.push(...await Promise.all(Array.from({ length: Math.min(5, TRIALS - batch) }, async (_, i) => {
        const name = uniqueName(`crash${batch + i}`);
        const { namespace, sources } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: (batch + i) % 2 === 0 ? 'it-mil1' : 'it-rom1', endpoints: ['pc'] }]);
        await eventually(`key of ${name}`, async () => (await readObject(client, K8S.Secret, 'main-key', namespace)) ?? undefined);
        return { name, namespace, sources, deleted: (batch + i) % 2 === 1 };
      })));
    }
    const uids = new Map<string, string>();
    for (const trial of trials) uids.set(trial.name, (await readObject<BackupSpace>(client, API.BackupSpace, 'main', trial.namespace))?.metadata.uid ?? '');

    // The watcher: a key gone while its space's export is not verified is the failure this guards.
    const violations: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const current = await records().catch(() => new Map<string, TerminationRecord>());
        const keys = new Set((await listAll<V1Secret>(client, K8S.Secret, { labelSelector: 'tenantbackup.io/secret-type=space-key' }).catch(() => ({ items: [] as V1Secret[] }))).items.map((s) => s.metadata?.namespace));
        for (const trial of trials) {
          if (keys.has(trial.namespace)) continue;
          const space = current.get(trial.name)?.spaces.find((s) => s.uid === uids.get(trial.name));
          if (!space?.verifiedAt) violations.push(`${trial.name}: key gone before its export was verified (record: ${JSON.stringify(space)})`);
        }
        await sleep(100);
      }
    })();

    for (const trial of trials) {
      if (trial.deleted) await client.request({ method: 'DELETE', path: objectPath(API.Tenant, trial.name) });
      else await mergePatch(client, API.Tenant, trial.name, undefined, { spec: { contract: { state: 'Terminated' } } });
    }

    let kills = 0;
    // Every step boundary: kill as soon as any record has entered the phase.
    for (const phase of BOUNDARIES) {
      const entered = await eventually(`a record to enter ${phase}`, async () => [...(await records()).values()].some((r) => r.phase === phase) || undefined, { timeoutMs: 120_000, intervalMs: 20 }).catch(() => false);
      if (!entered) continue;
      await kill();
      kills++;
      await start();
    }
    // Then at seeded random points.
    for (let i = 0; i < RANDOM_KILLS; i++) {
      const all = await records();
      if (all.size === TRIALS && [...all.values()].every((r) => r.phase === 'Done')) break;
      await sleep(200 + Math.floor(random() * 2500));
      await kill();
      kills++;
      await start();
    }
    await eventually('every trial to be Done', async () => {
      const all = await records();
      return all.size === TRIALS && [...all.values()].every((r) => r.phase === 'Done') ? true : undefined;
      // A bound, not a speed goal: 30 tenants' exports on 2 shared cores took 255-390 s.
    }, { timeoutMs: 600_000 });
    await eventually('every deleted tenant to be released', async () => {
      for (const trial of trials.filter((t) => t.deleted)) if (await readObject(client, API.Tenant, trial.name)) return undefined;
      return true;
    }, { timeoutMs: 120_000 });
    watching = false;
    await watcher;
    console.log(`termination crash test: ${TRIALS} trials, ${kills} SIGKILLs (${BOUNDARIES.length} at step boundaries, the rest at seeded random points), ${violations.length} violations`);

    expect(violations).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(BOUNDARIES.length);
    const archives = (await readdir(claimDir(root))).filter((f) => f.endsWith('.tar'));
    expect(archives).toHaveLength(TRIALS);
    const final = await records();
    for (const trial of trials) {
      const record = final.get(trial.name);
      const space = record?.spaces[0];
      expect(record?.phase, trial.name).toBe('Done');
      expect(record?.spaces).toHaveLength(1);
      expect(space?.verifiedAt, trial.name).toBeDefined();
      // The record's times are whole seconds; the export's carry milliseconds.
      expect(Date.parse(record?.destroyed.at ?? '')).toBeGreaterThanOrEqual(Math.floor(Date.parse(space?.verifiedAt ?? '') / 1000) * 1000);
      // One archive per space, and it is the one the record names.
      expect(archives.filter((a) => a.includes(space?.exportId ?? '?'))).toHaveLength(1);
      await checkArchive(space?.location ?? '', trial.sources, 'main');
      expect(await readObject(client, K8S.Namespace, trial.namespace)).toBeUndefined();
      expect(await readObject(client, API.Tenant, trial.name).then((t) => Boolean(t))).toBe(!trial.deleted);
    }
    for (const trial of trials.filter((t) => !t.deleted)) await removeTenant(client, trial.name);
  }, 1_200_000);
});
