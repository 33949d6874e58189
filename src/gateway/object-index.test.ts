import { describe, expect, it } from 'vitest';
import { ObjectIndex } from './object-index.ts';

const id = (n: number): string => n.toString(16).padStart(64, '0');

describe('ObjectIndex', () => {
  it('keeps the total and per-repository statistics in step with adds and removes', () => {
    const index = new ObjectIndex();
    index.add('r1', { type: 'config' }, { size: 10, fileBytes: 70, mtimeMs: 1 });
    index.add('r1', { type: 'data', id: id(1) }, { size: 1000, fileBytes: 1100, mtimeMs: 2 });
    index.add('r2', { type: 'data', id: id(1) }, { size: 500, fileBytes: 600, mtimeMs: 2 });
    expect(index.totalBytes).toBe(1510);
    index.add('r1', { type: 'data', id: id(1) }, { size: 1000, fileBytes: 1100, mtimeMs: 3 });
    expect(index.totalBytes).toBe(1510);
    expect(index.remove('r2', { type: 'data', id: id(1) })?.size).toBe(500);
    expect(index.remove('r2', { type: 'data', id: id(1) })).toBeUndefined();
    expect(index.totalBytes).toBe(1010);
    const stats = index.stats('r1');
    expect(stats.objects).toBe(2);
    expect(stats.byType.data).toEqual({ objects: 1, bytes: 1000 });
    expect(stats.byType.config).toEqual({ objects: 1, bytes: 10 });
  });

  it('classifies packs up to the first snapshot as full, later ones as incremental, the rest as metadata', () => {
    const index = new ObjectIndex();
    index.add('r', { type: 'data', id: id(1) }, { size: 100, fileBytes: 100, mtimeMs: 1000 });
    index.add('r', { type: 'index', id: id(2) }, { size: 5, fileBytes: 5, mtimeMs: 1001 });
    index.add('r', { type: 'snapshots', id: id(3) }, { size: 7, fileBytes: 7, mtimeMs: 1002 });
    index.add('r', { type: 'data', id: id(4) }, { size: 30, fileBytes: 30, mtimeMs: 2000 });
    index.add('r', { type: 'snapshots', id: id(5) }, { size: 7, fileBytes: 7, mtimeMs: 2001 });
    const stats = index.stats('r');
    expect(stats.byKind.full).toEqual({ objects: 1, bytes: 100 });
    expect(stats.byKind.incremental).toEqual({ objects: 1, bytes: 30 });
    expect(stats.byKind.metadata).toEqual({ objects: 3, bytes: 19 });
    expect(stats.lastSnapshotAtMs).toBe(2001);
    expect(index.snapshots('r').map((s) => s.id)).toEqual([id(5), id(3)]);
  });

  it('replays changes made during a rescan onto its result', async () => {
    const index = new ObjectIndex();
    index.add('r', { type: 'keys', id: id(1) }, { size: 1, fileBytes: 1, mtimeMs: 1 });
    await index.rebuild(async () => {
      // While the disk is walked: one object is written, one deleted.
      index.add('r', { type: 'data', id: id(2) }, { size: 20, fileBytes: 20, mtimeMs: 2 });
      index.remove('r', { type: 'keys', id: id(1) });
      return { objects: [{ repository: 'r', ref: { type: 'keys', id: id(1) }, info: { size: 1, fileBytes: 1, mtimeMs: 1 } }], strayBytes: 3 };
    });
    expect(index.get('r', { type: 'keys', id: id(1) })).toBeUndefined();
    expect(index.get('r', { type: 'data', id: id(2) })?.size).toBe(20);
    expect(index.totalBytes).toBe(23);
  });
});
