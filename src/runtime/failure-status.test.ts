import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/types.ts';
import { healthConditions, setCondition } from './conditions.ts';
import { failedStatus, failureMessage, reportFailure, rewordingWritten, type StatusWithConditions } from './failure-status.ts';
import type { RequestParams } from './kube/client.ts';
import { KubeApiError } from './kube/errors.ts';
import type { ResourceRef } from './kube/resource-ref.ts';

const t0 = new Date('2026-12-01T10:00:00.000Z');
const t1 = new Date('2026-12-01T11:00:00.000Z');
const planted = 'planted-secret-value-7f3a';
const summary = (status: StatusWithConditions) => (status.conditions ?? []).map((c: Condition) => [c.type, c.status, c.reason]);

describe('failedStatus', () => {
  it('gives an object without status Reconciling=True and Ready=False, and no observedGeneration', () => {
    const status = failedStatus(undefined, new Error('connect ECONNREFUSED 10.96.0.1:443'), 3, t0);
    expect(summary(status)).toEqual([['Ready', 'False', 'ReconcileError'], ['Reconciling', 'True', 'ReconcileError']]);
    expect(status.conditions?.[0]?.message).toBe('reconcile failed; retrying: connect ECONNREFUSED 10.96.0.1:443');
    expect(status).not.toHaveProperty('observedGeneration');
  });

  it('keeps the rest of a previous status and the other conditions, and clears Stalled', () => {
    let conditions = healthConditions(undefined, { state: 'stalled', reason: 'NoMatchingNodes', message: 'none' }, 2, t0);
    conditions = setCondition(conditions, { type: 'KeyReady', status: 'True', reason: 'KeyStored', message: 'ok' }, 2, t0);
    const before = { observedGeneration: 2, phase: 'Active', conditions };
    const after = failedStatus(before, new Error('boom'), 3, t1);
    expect(after).toMatchObject({ observedGeneration: 2, phase: 'Active' });
    expect(summary(after)).toEqual([['Ready', 'False', 'ReconcileError'], ['Reconciling', 'True', 'ReconcileError'], ['KeyReady', 'True', 'KeyStored']]);
    // Ready was False already: its transition time stays.
    expect(after.conditions?.[0]?.lastTransitionTime).toBe('2026-12-01T10:00:00Z');
  });

  it('is the same when the same failure repeats, so nothing is written again', () => {
    const once = failedStatus(undefined, new Error('boom'), 1, t0);
    expect(failedStatus(once, new Error('boom'), 1, t1)).toEqual(once);
  });

  it('never carries a secret the error message does', () => {
    const error = new Error(`PUT https://admin:${planted}@gw:8443/v1/keys: 401 (Authorization: Bearer ${planted}) token=${planted}`);
    const status = failedStatus(undefined, error, 1, t0);
    expect(JSON.stringify(status)).not.toContain(planted);
    expect(status.conditions?.[0]?.message).toContain('gw:8443/v1/keys: 401');
  });

  it('bounds the message, and says something for an empty or non-Error throw', () => {
    expect(failureMessage(new Error('x'.repeat(5000))).length).toBe(1024);
    expect(failureMessage(new Error(''))).toBe('reconcile failed; retrying: unknown error');
    expect(failureMessage('plain\nstring')).toBe('reconcile failed; retrying: plain string');
  });
});

describe('rewordingWritten', () => {
  it('writes a reworded failure on the 1st, 2nd, 4th, 8th… retry only', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16].map(rewordingWritten)).toEqual([true, true, true, false, true, false, false, false, true, false, true]);
  });
});

const ref: ResourceRef = { group: 'tenantbackup.io', version: 'v1alpha1', kind: 'Endpoint', plural: 'endpoints', namespaced: true };

function fakeClient(answers: { get?: unknown; patch?: unknown }): { client: { request: <T>(params: RequestParams) => Promise<T> }; calls: RequestParams[] } {
  const calls: RequestParams[] = [];
  return {
    calls,
    client: {
      request: async <T>(params: RequestParams): Promise<T> => {
        calls.push(params);
        const answer = params.method === 'GET' ? answers.get : answers.patch;
        if (answer instanceof Error) throw answer;
        return answer as T;
      },
    },
  };
}

function capture(): { logger: pino.Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { chunks.push(chunk.toString()); done(); } });
  return { logger: pino({ level: 'debug' }, stream), text: () => chunks.join('') };
}

const stored = { metadata: { name: 'laptop', namespace: 'tenant-acme', generation: 4, resourceVersion: '812' } };

describe('reportFailure', () => {
  it('applies the failed status to the status subresource under the resourceVersion it read', async () => {
    const { client, calls } = fakeClient({ get: stored, patch: {} });
    await reportFailure({ client, ref }, { key: 'tenant-acme/laptop', error: new Error('boom'), retries: 1 }, capture().logger, t0);
    expect(calls.map((c) => [c.method, c.path])).toEqual([
      ['GET', '/apis/tenantbackup.io/v1alpha1/namespaces/tenant-acme/endpoints/laptop'],
      ['PATCH', '/apis/tenantbackup.io/v1alpha1/namespaces/tenant-acme/endpoints/laptop/status'],
    ]);
    expect(calls[1]).toMatchObject({
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'tenant-backup-operator', force: true },
      body: { kind: 'Endpoint', metadata: { name: 'laptop', namespace: 'tenant-acme', resourceVersion: '812' }, status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'Reconciling', status: 'True' }] } },
    });
  });

  it('writes nothing when the status says this failure already, or only rewords it between backoff steps', async () => {
    const failed = { ...stored, status: failedStatus(undefined, new Error('boom at 10.0.0.1'), 4, t0) };
    const same = fakeClient({ get: failed, patch: {} });
    await reportFailure({ client: same.client, ref }, { key: 'tenant-acme/laptop', error: new Error('boom at 10.0.0.1'), retries: 5 }, capture().logger, t1);
    expect(same.calls.map((c) => c.method)).toEqual(['GET']);
    const reworded = fakeClient({ get: failed, patch: {} });
    await reportFailure({ client: reworded.client, ref }, { key: 'tenant-acme/laptop', error: new Error('boom at 10.0.0.2'), retries: 3 }, capture().logger, t1);
    expect(reworded.calls.map((c) => c.method)).toEqual(['GET']);
    await reportFailure({ client: reworded.client, ref }, { key: 'tenant-acme/laptop', error: new Error('boom at 10.0.0.2'), retries: 4 }, capture().logger, t1);
    expect(reworded.calls.map((c) => c.method)).toEqual(['GET', 'GET', 'PATCH']);
  });

  it('leaves a reported status alone for contention (unlessReported), and fills in one never reported', async () => {
    const reported = { ...stored, status: { observedGeneration: 4, conditions: healthConditions(undefined, { state: 'ready', reason: 'Reconciled', message: 'ok' }, 4, t0) } };
    const contended = fakeClient({ get: reported, patch: {} });
    await reportFailure({ client: contended.client, ref }, { key: 'tenant-acme/laptop', error: new Error('changed meanwhile'), retries: 0, unlessReported: true }, capture().logger, t1);
    expect(contended.calls.map((c) => c.method)).toEqual(['GET']);
    const fresh = fakeClient({ get: stored, patch: {} });
    await reportFailure({ client: fresh.client, ref }, { key: 'tenant-acme/laptop', error: new Error('changed meanwhile'), retries: 0, unlessReported: true }, capture().logger, t1);
    expect(fresh.calls.map((c) => c.method)).toEqual(['GET', 'PATCH']);
  });

  it('logs and carries on when the object is gone, changed meanwhile, or the write fails', async () => {
    const cases = [
      { get: new KubeApiError('GET', '/x', 404, { reason: 'NotFound' }, ''), level: 'debug' },
      { get: stored, patch: new KubeApiError('PATCH', '/x', 409, { reason: 'Conflict' }, ''), level: 'debug' },
      { get: stored, patch: new KubeApiError('PATCH', '/x', 500, { reason: 'InternalError', message: `etcd said password=${planted}` }, ''), level: 'warn' },
      { get: new Error('socket hang up'), level: 'warn' },
    ];
    for (const { level, ...answers } of cases) {
      const { logger, text } = capture();
      await expect(reportFailure({ client: fakeClient(answers).client, ref }, { key: 'tenant-acme/laptop', error: new Error('boom'), retries: 1 }, logger, t0)).resolves.toBeUndefined();
      expect(JSON.parse(text().trim())).toMatchObject({ level: level === 'debug' ? 20 : 40, object: 'tenant-acme/laptop' });
      expect(text()).not.toContain(planted);
    }
  });

  it('addresses a cluster-scoped object by its key alone', async () => {
    const { client, calls } = fakeClient({ get: { metadata: { name: 'it-mil1', resourceVersion: '3' } }, patch: {} });
    await reportFailure({ client, ref: { ...ref, kind: 'Datacenter', plural: 'datacenters', namespaced: false } }, { key: 'it-mil1', error: new Error('boom'), retries: 1 }, capture().logger, t0);
    expect(calls.map((c) => c.path)).toEqual(['/apis/tenantbackup.io/v1alpha1/datacenters/it-mil1', '/apis/tenantbackup.io/v1alpha1/datacenters/it-mil1/status']);
  });
});
