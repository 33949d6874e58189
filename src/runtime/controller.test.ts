/** One reconcile's outcome turned into queue actions: the temporary/permanent split, no cluster. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Controller, TemporaryError, type Reconcile } from './controller.ts';
import type { RequestParams } from './kube/client.ts';
import { KubeApiError } from './kube/errors.ts';

function controllerWith(reconcile: Reconcile): Controller {
  return new Controller({ name: 'test', reconcile, logger: pino({ level: 'silent' }), backoff: { baseMs: 60_000, maxMs: 60_000 } });
}

describe('Controller.process', () => {
  it('retries any other error with backoff, counting failures, until a success forgets them', async () => {
    let fail = true;
    const controller = controllerWith(async () => {
      if (fail) throw new Error('API server unavailable');
      return undefined;
    });
    await controller.process('a');
    await controller.process('a');
    expect(controller.queue.retries('a')).toBe(2);
    expect(controller.queue.waiting).toBe(1);
    fail = false;
    await controller.process('a');
    expect(controller.queue.retries('a')).toBe(0);
  });

  it('requeues a TemporaryError after the delay it asks for, without counting a failure', async () => {
    const controller = controllerWith(async () => {
      throw new TemporaryError('waiting for the space', 20);
    });
    await controller.process('a');
    expect(controller.queue.retries('a')).toBe(0);
    expect(controller.queue.waiting).toBe(1);
    await expect.poll(() => controller.queue.length, { timeout: 2_000 }).toBe(1);
  });

  it('requeues after the delay a successful reconcile asks for', async () => {
    const controller = controllerWith(async () => ({ requeueAfterMs: 20 }));
    await controller.process('a');
    expect(controller.queue.waiting).toBe(1);
    await expect.poll(() => controller.queue.length, { timeout: 2_000 }).toBe(1);
  });

  it('records a failed reconcile in the object\'s status (a conflict only before any was reported), and logs it redacted', async () => {
    const planted = 'planted-secret-value-7f3a';
    const paths: string[] = [];
    const client = {
      request: async <T>(params: RequestParams): Promise<T> => {
        paths.push(`${params.method} ${params.path}`);
        return { metadata: { name: 'it-mil1', resourceVersion: '1' }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Reconciled', message: '', lastTransitionTime: '2026-12-01T10:00:00Z' }] } } as T;
      },
    };
    const chunks: string[] = [];
    const logger = pino(new Writable({ write(chunk: Buffer, _encoding, done) { chunks.push(chunk.toString()); done(); } }));
    let error: Error = new KubeApiError('PATCH', '/x', 409, { reason: 'Conflict' }, '');
    const controller = new Controller({
      name: 'test', logger, backoff: { baseMs: 60_000, maxMs: 60_000 },
      failureStatus: { client, ref: { group: 'tenantbackup.io', version: 'v1alpha1', kind: 'Datacenter', plural: 'datacenters', namespaced: false } },
      reconcile: async () => { throw error; },
    });
    await controller.process('it-mil1');
    const object = '/apis/tenantbackup.io/v1alpha1/datacenters/it-mil1';
    expect(paths).toEqual([`GET ${object}`]);
    error = new Error(`gateway refused token=${planted}`);
    await controller.process('it-mil1');
    expect(paths).toEqual([`GET ${object}`, `GET ${object}`, `PATCH ${object}/status`]);
    expect(chunks.join('')).toContain('gateway refused token=');
    expect(chunks.join('')).not.toContain(planted);
  });
});
