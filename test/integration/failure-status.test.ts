/**
 * A reconcile that throws before it ever wrote status must still be visible to kstatus (Flux, Argo CD):
 * the runtime writes Reconciling=True and Ready=False itself, on the real API server's status
 * subresource, without the secret a thrown message may carry, and the next successful reconcile's
 * status replaces them.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Condition } from '../../src/api/types.ts';
import { applyStatus, getObject } from '../../src/runtime/apply.ts';
import { healthConditions, setCondition } from '../../src/runtime/conditions.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { reportFailure } from '../../src/runtime/failure-status.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../../src/runtime/object.ts';
import { createObject } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { kstatusOf } from '../support/kstatus.ts';
import { clients, createNamespace, uniqueName } from '../support/kube.ts';
import { datacenter, endpoint } from '../support/objects.ts';

const { kubeconfigPath, core } = clients();
const client = KubeClient.load(kubeconfigPath);
const PLANTED = 'planted-secret-value-7f3a';

interface Observed extends KubeObject {
  metadata: KubeObject['metadata'] & { generation?: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

function capture(): { logger: pino.Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { chunks.push(chunk.toString()); done(); } });
  return { logger: pino({ level: 'debug' }, stream), text: () => chunks.join('') };
}

/** kstatus of what was read (the objects here are never being deleted). */
const kstatus = (object: Observed | undefined) => kstatusOf({ metadata: { generation: object?.metadata.generation }, status: object?.status });
const types = (object: Observed | undefined) => (object?.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason]);

let namespace: string;
beforeAll(async () => {
  await installCrds(client);
  namespace = await createNamespace(core, 'failure-status');
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

describe('a reconcile that throws', () => {
  const cases: [string, ResourceRef, () => KubeObject][] = [
    ['a namespaced Endpoint', API.Endpoint, () => endpoint(uniqueName('failing'), namespace, 'vault')],
    ['a cluster-scoped Datacenter', API.Datacenter, () => datacenter(uniqueName('it-failing'), 'IT')],
  ];

  it.each(cases)('leaves %s with Reconciling/Ready=False that kstatus reads as InProgress, until a reconcile succeeds', async (_what, ref, build) => {
    const created = await createObject<Observed>(client, ref, build());
    const { name, namespace: ns } = created.metadata;
    const key = objectKey(created);
    const read = async () => getObject<Observed>(client, ref, name ?? '', ns);
    let failing = true;
    const { logger, text } = capture();
    const controller = new Controller({
      name: 'failing',
      logger,
      backoff: { baseMs: 60_000, maxMs: 60_000 },
      failureStatus: { client, ref },
      reconcile: async () => {
        // Fails before anything is written, carrying what an API or gateway error may echo.
        if (failing) throw new Error(`GET https://admin:${PLANTED}@10.0.0.1/v1/report refused: token=${PLANTED}`);
        const current = await read();
        if (!current) return undefined;
        let conditions = healthConditions(current.status?.conditions, { state: 'ready', reason: 'Reconciled', message: 'ok' }, current.metadata.generation, new Date());
        conditions = setCondition(conditions, { type: 'Custom', status: 'True', reason: 'Kept', message: 'a condition of the controller' }, current.metadata.generation, new Date());
        await applyStatus(client, ref, current, { observedGeneration: current.metadata.generation, conditions });
        return undefined;
      },
    });

    expect((await read())?.status).toBeUndefined();
    expect(kstatus(await read())).toBe('Current'); // what Flux saw before: no status at all

    await controller.process(key);
    const failed = await read();
    expect(types(failed)).toEqual([['Ready', 'False', 'ReconcileError'], ['Reconciling', 'True', 'ReconcileError']]);
    expect(failed?.status?.observedGeneration).toBeUndefined();
    expect(kstatus(failed)).toBe('InProgress');
    expect(JSON.stringify(failed?.status)).not.toContain(PLANTED);
    expect(JSON.stringify(failed?.status)).toContain('10.0.0.1/v1/report refused');
    expect(controller.queue.retries(key)).toBe(1);

    failing = false;
    await controller.process(key);
    const ready = await read();
    expect(types(ready)).toEqual([['Ready', 'True', 'Reconciled'], ['Custom', 'True', 'Kept']]);
    expect(kstatus(ready)).toBe('Current');

    // From a Ready status: observedGeneration stays as it was, the controller's other conditions stay.
    failing = true;
    await controller.process(key);
    const again = await read();
    expect(types(again)).toEqual([['Ready', 'False', 'ReconcileError'], ['Reconciling', 'True', 'ReconcileError'], ['Custom', 'True', 'Kept']]);
    expect(again?.status?.observedGeneration).toBe(ready?.status?.observedGeneration);
    expect(kstatus(again)).toBe('InProgress');

    failing = false;
    await controller.process(key);
    expect(types(await read())).toEqual([['Ready', 'True', 'Reconciled'], ['Custom', 'True', 'Kept']]);
    expect(kstatus(await read())).toBe('Current');

    // The object gone: the status write finds nothing, and the runtime carries on.
    await client.request({ method: 'DELETE', path: objectPath(ref, name ?? '', ns) });
    failing = true;
    await expect(controller.process(key)).resolves.toBeUndefined();
    expect(text()).not.toContain(PLANTED);
  });

  it('never overwrites a status written after it read the object', async () => {
    const created = await createObject<Observed>(client, API.Endpoint, endpoint(uniqueName('raced'), namespace, 'vault'));
    const name = created.metadata.name ?? '';
    const read = async () => getObject<Observed>(client, API.Endpoint, name, namespace);
    const newer = { observedGeneration: 1, conditions: healthConditions(undefined, { state: 'ready', reason: 'Reconciled', message: 'ok' }, 1, new Date()) };
    // Another worker's successful reconcile lands between the failure's read and its write.
    const racing: Pick<KubeClient, 'request'> = {
      request: async <T>(params: Parameters<KubeClient['request']>[0]): Promise<T> => {
        const answer = await client.request<T>(params);
        if (params.method === 'GET') await applyStatus(client, API.Endpoint, (await read())!, newer);
        return answer;
      },
    };
    const { logger, text } = capture();
    await reportFailure({ client: racing, ref: API.Endpoint }, { key: objectKey(created), error: new Error('boom'), retries: 1 }, logger, new Date());
    const after = await read();
    expect(types(after)).toEqual([['Ready', 'True', 'Reconciled']]);
    expect(kstatus(after)).toBe('Current');
    expect(text()).toContain('the object is gone or changed');
  });
});
