import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockUnavailableError, VolumeLock } from './volume-lock.ts';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'volume-lock-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function lockOf(owner: string, options: { staleMs?: number; waitMs?: number } = {}): VolumeLock {
  return new VolumeLock(join(directory, 'sub', 'x.lock'), { owner, staleMs: options.staleMs ?? 10_000, waitMs: options.waitMs ?? 30_000 });
}

describe('VolumeLock', () => {
  it('lets one holder in at a time', async () => {
    const inside: string[] = [];
    let overlaps = 0;
    const work = async (name: string): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const lock = lockOf(name);
        await lock.acquire();
        if (inside.length > 0) overlaps += 1;
        inside.push(name);
        await new Promise((resolve) => setImmediate(resolve));
        inside.pop();
        expect(await lock.verify()).toBe(true);
        await lock.release();
      }
    };
    await Promise.all(['a', 'b', 'c', 'd'].map(work));
    expect(overlaps).toBe(0);
    expect(await readdir(join(directory, 'sub'))).toEqual([]);
  });

  it('breaks a lock left by a dead holder once its token stayed unchanged for staleMs, and only that one', async () => {
    const path = join(directory, 'sub', 'x.lock');
    const dead = lockOf('dead');
    await dead.acquire();
    const waiter = lockOf('waiter', { staleMs: 150 });
    const started = Date.now();
    await waiter.acquire();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(waiter.brokenStale).toBe(1);
    expect(await readFile(path, 'utf8')).toMatch(/^waiter /);
    // The holder that was only paused finds out before it writes, and does not remove the new lock.
    expect(await dead.verify()).toBe(false);
    await dead.release();
    expect(await waiter.verify()).toBe(true);
    await waiter.release();
    expect(await readdir(join(directory, 'sub'))).toEqual([]);
  });

  it('gives up after waitMs while a live holder keeps it', async () => {
    const holder = lockOf('holder');
    await holder.acquire();
    const path = join(directory, 'sub', 'x.lock');
    // A live holder that holds long: its token changes (as each new hold does), so it is never stale.
    const refresh = setInterval(() => void writeFile(path, `holder ${Math.random()}\n`), 20);
    try {
      await expect(lockOf('waiter', { staleMs: 100, waitMs: 300 }).acquire()).rejects.toBeInstanceOf(LockUnavailableError);
    } finally {
      clearInterval(refresh);
    }
  });
});
