import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { LEDGER_FILE, LEDGER_JOURNAL_FILE, SpaceQuota, ledgerKey, parseLedger, type QuotaTiming, type ReconcileScan } from './quota.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const id = (n: number): string => n.toString(16).padStart(64, '0');
const key = (n: number): string => ledgerKey('endpoints/a', { type: 'data', id: id(n) });

let directory: string;
let opened: SpaceQuota[];

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quota-'));
  opened = [];
});

afterEach(async () => {
  for (const quota of opened) await quota.close();
  await rm(directory, { recursive: true, force: true });
});

/** One replica's view of the space account in `directory` (several of them share it, as pods share the volume). */
async function replica(limit: number | { bytes: number }, options: { timing?: Partial<QuotaTiming>; seed?: number; onReconcileNeeded?: (reason: string) => void; owner?: string } = {}): Promise<SpaceQuota> {
  const quota = new SpaceQuota({
    directory,
    limitBytes: () => (typeof limit === 'number' ? limit : limit.bytes),
    log,
    timing: options.timing,
    seedUsedBytes: () => options.seed ?? 0,
    onReconcileNeeded: options.onReconcileNeeded,
    owner: options.owner,
  });
  await quota.open();
  opened.push(quota);
  return quota;
}

function scanOf(objects: { n: number; size: number }[], strayBytes = 0): ReconcileScan {
  return { objects: objects.map(({ n, size }) => ({ repository: 'endpoints/a', ref: { type: 'data', id: id(n) }, info: { size } })), strayBytes };
}

async function ledgerOnDisk() {
  return parseLedger(await readFile(join(directory, LEDGER_FILE), 'utf8'));
}

describe('SpaceQuota', () => {
  it('refuses a declared length that does not fit, before anything is stored', async () => {
    const quota = await replica(1000);
    const first = await quota.reserve(900);
    expect(first).not.toBeNull();
    expect(await quota.reserve(101)).toBeNull();
    const second = await quota.reserve(100);
    expect(second).not.toBeNull();
    await first!.commit(key(1), 900);
    await second!.release();
    await quota.refresh();
    expect(quota.usedBytes).toBe(900);
    expect(quota.reservedBytes).toBe(0);
  });

  it('is one account for replicas sharing the directory: together they never reserve past the quota', async () => {
    const a = await replica(1000);
    const b = await replica(1000);
    // 20 uploads of 100 bytes at once, half through each replica; each replica alone would admit 10.
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).reserve(100)));
    const granted = attempts.filter((r) => r !== null);
    expect(granted).toHaveLength(10);
    await a.refresh();
    expect(a.reservedBytes).toBe(1000);
    // Committing turns reservations into stored bytes in one step; the other replica sees it at once.
    await Promise.all(granted.slice(0, 4).map((r, i) => r!.commit(key(i), 100)));
    await Promise.all(granted.slice(4).map((r) => r!.release()));
    await b.refresh();
    expect([b.usedBytes, b.reservedBytes]).toEqual([400, 0]);
    expect(await a.reserve(601)).toBeNull();
    expect(await b.reserve(600)).not.toBeNull();
    expect(b.replicas).toBe(2);
  });

  it('grows a streamed upload ahead of need, and refuses it the moment it no longer fits', async () => {
    const a = await replica(3 * 1024 * 1024);
    const b = await replica(3 * 1024 * 1024);
    const streamed = (await a.reserve(0))!;
    expect(streamed.bytes).toBe(0);
    expect(await streamed.ensure(10)).toBe(true);
    // Ahead: a whole MiB at once, so the next pieces need no ledger update.
    expect(streamed.bytes).toBe(1024 * 1024);
    expect(streamed.ensure(500_000)).toBe(true);
    const other = (await b.reserve(1024 * 1024 + 100))!;
    expect(other).not.toBeNull();
    // 2 MiB ahead does not fit beside the other replica's upload; exactly what is needed still does.
    expect(await streamed.ensure(2 * 1024 * 1024 - 100)).toBe(true);
    expect(streamed.bytes).toBe(2 * 1024 * 1024 - 100);
    expect(await streamed.ensure(2 * 1024 * 1024)).toBe(false);
    expect(streamed.bytes).toBe(2 * 1024 * 1024 - 100);
    await streamed.release();
    await streamed.release();
    await other.release();
    await a.refresh();
    expect(a.reservedBytes).toBe(0);
  });

  it('lets exempt uploads (restic locks) through a full space, still counting them', async () => {
    const quota = await replica(1000);
    await (await quota.reserve(1000))!.commit(key(1), 1000);
    const lock = await quota.reserve(300, { exempt: true });
    expect(lock).not.toBeNull();
    expect(quota.reservedBytes).toBe(300);
    expect(await quota.reserve(1)).toBeNull();
  });

  it('subtracts a delete once, seen from every replica', async () => {
    const a = await replica(1000);
    const b = await replica(1000);
    await (await a.reserve(700))!.commit(key(1), 700);
    expect(await b.reserve(400)).toBeNull();
    const removal = await b.removing(key(1), 700);
    // Announced but not yet unlinked: still counted.
    expect(await a.reserve(400)).toBeNull();
    await removal.removed();
    await removal.removed();
    expect(await a.reserve(1000)).not.toBeNull();
    const failed = await a.removing(key(2), 50);
    await failed.failed();
    await a.refresh();
    expect(a.usedBytes).toBe(0);
  });

  it('orphans the reservations of a replica that stopped beating, counting them until a reconciliation that began after', async () => {
    const reasons: string[] = [];
    // The "dead" replica never beats again (its heartbeat is an hour away) and never leaves.
    const dead = new SpaceQuota({ directory, limitBytes: () => 1000, log, timing: { heartbeatMs: 3_600_000 } });
    await dead.open();
    expect(await dead.reserve(600)).not.toBeNull();
    const alive = await replica(1000, { timing: { ownerStaleMs: 100 }, onReconcileNeeded: (reason) => reasons.push(reason) });
    expect(alive.replicas).toBe(2);
    // A reconciliation already under way does not clear what is orphaned after it began.
    const early = await alive.beginReconcile();
    await sleep(150);
    await alive.refresh();
    expect(alive.replicas).toBe(1);
    expect(reasons).toHaveLength(1);
    expect(alive.reservedBytes).toBe(600);
    expect(await alive.reserve(401)).toBeNull();
    expect(await alive.finishReconcile(early, scanOf([]))).toBe(true);
    expect(alive.reservedBytes).toBe(600);
    const later = await alive.beginReconcile();
    expect(await alive.finishReconcile(later, scanOf([]))).toBe(true);
    expect(alive.reservedBytes).toBe(0);
    expect(await alive.reserve(1000)).not.toBeNull();
  });

  it('reconciles with the walk, replaying what every replica changed while it ran', async () => {
    const a = await replica(10_000);
    const b = await replica(10_000);
    await (await a.reserve(100))!.commit(key(1), 100);
    await (await a.reserve(200))!.commit(key(2), 200);
    const ticket = await a.beginReconcile();
    // During the walk, replica b stores object 3 and deletes object 1, and a stores object 4.
    await (await b.reserve(300))!.commit(key(3), 300);
    const removal = await b.removing(key(1), 100);
    await removal.removed();
    await (await a.reserve(400))!.commit(key(4), 400);
    // The walk saw object 1 (before its delete) and object 3, not object 4; also 5 stray bytes, and
    // it finds object 9 that the ledger never heard of (written by an older gateway).
    expect(await a.finishReconcile(ticket, scanOf([{ n: 1, size: 100 }, { n: 2, size: 200 }, { n: 3, size: 300 }, { n: 9, size: 50 }], 5))).toBe(true);
    await b.refresh();
    expect(b.usedBytes).toBe(200 + 300 + 400 + 50 + 5);
    expect(b.reconciledAt).not.toBeNull();
    // No reconciliation left under way: the journal was emptied.
    expect(await readFile(join(directory, LEDGER_JOURNAL_FILE), 'utf8')).toBe('');
    expect((await ledgerOnDisk())?.journalLines).toBe(0);
  });

  it('does not subtract twice a delete that a reconciliation already found gone', async () => {
    const quota = await replica(10_000);
    await (await quota.reserve(100))!.commit(key(1), 100);
    await (await quota.reserve(200))!.commit(key(2), 200);
    const removal = await quota.removing(key(2), 200);
    // unlink happened, then a whole walk ran before the delete was reported.
    const ticket = await quota.beginReconcile();
    await quota.finishReconcile(ticket, scanOf([{ n: 1, size: 100 }]));
    expect(quota.usedBytes).toBe(100);
    await removal.removed();
    await quota.refresh();
    expect(quota.usedBytes).toBe(100);
  });

  it('discards a reconciliation whose replica was taken for dead', async () => {
    const stalled = new SpaceQuota({ directory, limitBytes: () => 1000, log, timing: { heartbeatMs: 3_600_000 } });
    await stalled.open();
    const ticket = await stalled.beginReconcile();
    const other = await replica(1000, { timing: { ownerStaleMs: 50 } });
    await sleep(80);
    await other.refresh();
    expect(await stalled.finishReconcile(ticket, scanOf([{ n: 1, size: 999 }]))).toBe(false);
    await stalled.close();
  });

  it('rebuilds a ledger it cannot read from the replica’s own count, and asks for a reconciliation', async () => {
    const reasons: string[] = [];
    const first = await replica(1000, { seed: 0 });
    await (await first.reserve(10))!.commit(key(1), 10);
    await writeFile(join(directory, LEDGER_FILE), '{"version":1,"seq":3,"usedBy');
    const second = await replica(1000, { seed: 123, onReconcileNeeded: (reason) => reasons.push(reason) });
    expect(second.usedBytes).toBe(123);
    expect(reasons).toHaveLength(1);
  });

  it('is written in place, padded, so that later updates need no new disk blocks', async () => {
    const quota = await replica(1000);
    const size = (await readFile(join(directory, LEDGER_FILE))).length;
    expect(size % 65_536).toBe(0);
    await quota.reserve(5);
    expect((await readFile(join(directory, LEDGER_FILE))).length).toBe(size);
  });

  it('leaves the account on close; the other replicas stop counting it', async () => {
    const a = await replica(1000);
    const b = new SpaceQuota({ directory, limitBytes: () => 1000, log });
    await b.open();
    await a.refresh();
    expect(a.replicas).toBe(2);
    await b.close();
    await a.refresh();
    expect(a.replicas).toBe(1);
    expect([...((await ledgerOnDisk())?.owners.keys() ?? [])]).toEqual([a.owner]);
  });
});
