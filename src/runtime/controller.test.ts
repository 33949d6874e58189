/** One reconcile's outcome turned into queue actions: the temporary/permanent split, no cluster. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Controller, TemporaryError, type Reconcile } from './controller.ts';

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
});
