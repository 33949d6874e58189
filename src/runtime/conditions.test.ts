import { describe, expect, it } from 'vitest';
import { healthConditions, newlyStalled, setCondition, warnIfNewlyStalled } from './conditions.ts';

const t0 = new Date('2026-11-23T10:00:00.000Z');
const t1 = new Date('2026-11-23T11:00:00.000Z');

describe('conditions', () => {
  it('keeps lastTransitionTime while the status does not change', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, t0);
    const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, t1);
    expect(same[0]).toMatchObject({ status: 'False', reason: 'B', observedGeneration: 2, lastTransitionTime: '2026-11-23T10:00:00Z' });
    const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'C', message: 'c' }, 2, t1);
    expect(flipped[0]?.lastTransitionTime).toBe('2026-11-23T11:00:00Z');
  });

  it('follows kstatus: Reconciling and Stalled only while true, Ready first', () => {
    const progressing = healthConditions([{ type: 'Custom', status: 'True', reason: 'X', message: '', lastTransitionTime: '2026-11-23T09:00:00Z' }], { state: 'progressing', reason: 'Creating', message: 'creating' }, 1, t0);
    expect(progressing.map((c) => [c.type, c.status])).toEqual([['Ready', 'False'], ['Reconciling', 'True'], ['Custom', 'True']]);
    const stalled = healthConditions(progressing, { state: 'stalled', reason: 'Broken', message: 'broken rule' }, 1, t1);
    expect(stalled.map((c) => [c.type, c.status])).toEqual([['Ready', 'False'], ['Stalled', 'True'], ['Custom', 'True']]);
    const ready = healthConditions(stalled, { state: 'ready', reason: 'Done', message: 'ok' }, 2, t1);
    expect(ready.map((c) => [c.type, c.status])).toEqual([['Ready', 'True'], ['Custom', 'True']]);
  });

  it('is stable: computing twice from the same input gives the same conditions', () => {
    const once = healthConditions(undefined, { state: 'ready', reason: 'Done', message: 'ok' }, 3, t0);
    expect(healthConditions(once, { state: 'ready', reason: 'Done', message: 'ok' }, 3, t1)).toEqual(once);
  });

  it('raises a Warning Event for a newly Stalled object, once, with the condition\'s reason and message', async () => {
    const ready = healthConditions(undefined, { state: 'ready', reason: 'NodesReady', message: 'ok' }, 1, t0);
    const stalled = healthConditions(ready, { state: 'stalled', reason: 'NoMatchingNodes', message: 'no node matches spec.nodeSelector' }, 1, t1);
    expect(newlyStalled(ready, stalled)).toMatchObject({ reason: 'NoMatchingNodes' });
    expect(newlyStalled(undefined, stalled)).toMatchObject({ reason: 'NoMatchingNodes' });
    expect(newlyStalled(stalled, stalled)).toBeUndefined();
    expect(newlyStalled(stalled, ready)).toBeUndefined();
    const otherwise = healthConditions(stalled, { state: 'stalled', reason: 'NoReadyNodes', message: 'none is Ready' }, 1, t1);
    expect(newlyStalled(stalled, otherwise)).toMatchObject({ reason: 'NoReadyNodes' });

    const warnings: [string, string][] = [];
    const ctx = { recorder: { warning: async (_object: unknown, reason: string, note: string) => { warnings.push([reason, note]); } } };
    const object = { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Datacenter', metadata: { name: 'it-mil1' } };
    await warnIfNewlyStalled(ctx, object, ready, stalled);
    await warnIfNewlyStalled(ctx, object, stalled, stalled);
    expect(warnings).toEqual([['NoMatchingNodes', 'no node matches spec.nodeSelector']]);
  });
});
