import { describe, expect, it } from 'vitest';
import { backoffDelay, WorkQueue } from './workqueue.ts';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('WorkQueue', () => {
  it('de-duplicates a key added many times before it is processed', async () => {
    const queue = new WorkQueue('test');
    queue.add('a');
    queue.add('b');
    queue.add('a');
    queue.add('a');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.length).toBe(0);
  });

  it('never hands a key to two workers at once, and requeues it if added meanwhile', async () => {
    const queue = new WorkQueue('test');
    queue.add('a');
    const first = await queue.get();
    expect(first).toBe('a');
    queue.add('a'); // changed while being processed
    expect(queue.length).toBe(0); // held back, not handed to a second worker
    let second: string | undefined;
    void queue.get().then((key) => { second = key; });
    await sleep(5);
    expect(second).toBeUndefined();
    queue.done('a');
    await sleep(0);
    expect(second).toBe('a');
  });

  it('runs at most one reconcile per key with many concurrent workers', async () => {
    const queue = new WorkQueue('test');
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async () => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        if (active.has(key)) overlaps++;
        active.add(key);
        await sleep(1);
        processed++;
        active.delete(key);
        queue.done(key);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let round = 0; round < 20; round++) {
      for (const key of ['a', 'b', 'c']) queue.add(key);
      await sleep(1);
    }
    await sleep(50);
    queue.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    expect(processed).toBeGreaterThanOrEqual(3);
  });

  it('backs off exponentially per key and starts over after forget', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 1000 }))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(10, { baseMs: 100, maxMs: 1000 })).toBe(1000);
    const queue = new WorkQueue('test', undefined, { baseMs: 10, maxMs: 1000 });
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    queue.addRateLimited('b');
    expect(queue.retries('a')).toBe(2);
    expect(queue.retries('b')).toBe(1);
    queue.forget('a');
    expect(queue.retries('a')).toBe(0);
    queue.shutDown();
  });

  it('delays a rate-limited key by its backoff', async () => {
    const queue = new WorkQueue('test', undefined, { baseMs: 40, maxMs: 1000 });
    queue.addRateLimited('a'); // 40ms
    expect(queue.length).toBe(0);
    expect(queue.waiting).toBe(1);
    await sleep(15);
    expect(queue.length).toBe(0);
    await sleep(60);
    expect(queue.length).toBe(1);
    queue.shutDown();
  });

  it('keeps the earliest of two delayed adds of a key', async () => {
    const queue = new WorkQueue('test');
    queue.addAfter('a', 10_000);
    queue.addAfter('a', 10);
    queue.addAfter('a', 5_000);
    await sleep(40);
    expect(queue.length).toBe(1);
    queue.shutDown();
  });

  it('releases waiting workers on shutdown', async () => {
    const queue = new WorkQueue('test');
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add('ignored');
    expect(await queue.get()).toBeUndefined();
  });
});
