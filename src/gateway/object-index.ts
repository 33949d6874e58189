/**
 * In-memory index of every object stored in the space: which repository it belongs to, its plaintext
 * size (what restic sees and what the quota counts) and when it was written. It is this replica's
 * source of the per-endpoint figures — metrics, the operator's report, the human usage route — so
 * they can be answered without walking the disk. The quota, and the space's total used bytes, are
 * counted instead by the ledger the replicas share on the volume (quota.ts): this index learns of
 * other replicas' writes only at its next rescan.
 *
 * It is built by scanning the data directory at startup (which also makes the usage counter correct
 * across restarts), kept current by the object store on every write and delete, and reconciled by a
 * periodic rescan so that writes by another gateway replica sharing the volume are eventually counted.
 * Changes that happen while a rescan walks the disk are journaled and replayed onto its result, so a
 * rescan never loses a write or resurrects a delete.
 */
import type { FileRef, ResticFileType } from './paths.ts';

export interface ObjectInfo {
  /** Plaintext bytes, as the client wrote them. */
  size: number;
  /** Bytes the file takes on disk (larger than size when encrypted at rest). */
  fileBytes: number;
  /** When the object was stored (file mtime). */
  mtimeMs: number;
}

type TypeMap = Map<string, ObjectInfo>;
type RepositoryMap = Map<ResticFileType, TypeMap>;

export interface TypeStats {
  objects: number;
  bytes: number;
}

/**
 * Kinds in the sense of S15 (full / incremental / metadata). restic packs are encrypted, so the server
 * cannot look inside them; it classifies by upload order instead: data packs stored up to the first
 * snapshot of the repository carry the first, full backup; packs stored later carry only what later
 * backups added (restic deduplicates), i.e. incremental data. Everything that is not a data pack —
 * index, snapshots, keys, locks, config — is metadata. Packs rewritten by a prune count as incremental.
 */
export interface KindStats {
  full: TypeStats;
  incremental: TypeStats;
  metadata: TypeStats;
}

export interface RepositoryStats {
  objects: number;
  bytes: number;
  byType: Record<ResticFileType, TypeStats>;
  byKind: KindStats;
  /** Time of the newest snapshot object: the end of the last successful backup. */
  lastSnapshotAtMs: number | null;
  snapshotCount: number;
}

export interface SnapshotObject {
  id: string;
  size: number;
  storedAtMs: number;
}

type JournalEntry = { op: 'add'; repository: string; ref: FileRef; info: ObjectInfo } | { op: 'remove'; repository: string; ref: FileRef };

/** One file found by a scan. */
export interface ScannedObject {
  repository: string;
  ref: FileRef;
  info: ObjectInfo;
}

function keyOf(ref: FileRef): string {
  return ref.type === 'config' ? 'config' : ref.id;
}

function emptyTypeStats(): TypeStats {
  return { objects: 0, bytes: 0 };
}

export class ObjectIndex {
  #repositories = new Map<string, RepositoryMap>();
  /** Files in the data directory that belong to no repository layout; they still take space. */
  #strayBytes = 0;
  #totalBytes = 0;
  #journal: JournalEntry[] | null = null;

  /** Plaintext bytes of everything stored in the space. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  get totalObjects(): number {
    let count = 0;
    for (const repository of this.#repositories.values()) for (const objects of repository.values()) count += objects.size;
    return count;
  }

  add(repository: string, ref: FileRef, info: ObjectInfo): void {
    this.#journal?.push({ op: 'add', repository, ref, info });
    this.#apply(this.#repositories, repository, ref, info);
  }

  remove(repository: string, ref: FileRef): ObjectInfo | undefined {
    this.#journal?.push({ op: 'remove', repository, ref });
    return this.#apply(this.#repositories, repository, ref, null);
  }

  get(repository: string, ref: FileRef): ObjectInfo | undefined {
    return this.#repositories.get(repository)?.get(ref.type)?.get(keyOf(ref));
  }

  /** Repositories present in the index (from disk), configured or not. */
  repositories(): string[] {
    return [...this.#repositories.keys()];
  }

  /**
   * Replaces the index with the result of a scan. `scan` walks the disk; changes made while it runs
   * are journaled and replayed on its result.
   */
  async rebuild(scan: () => Promise<{ objects: ScannedObject[]; strayBytes: number }>): Promise<void> {
    if (this.#journal !== null) throw new Error('a rescan is already running');
    this.#journal = [];
    let result: { objects: ScannedObject[]; strayBytes: number };
    try {
      result = await scan();
    } catch (error) {
      this.#journal = null;
      throw error;
    }
    const journal = this.#journal;
    this.#journal = null;
    const fresh = new Map<string, RepositoryMap>();
    this.#totalBytes = result.strayBytes;
    for (const { repository, ref, info } of result.objects) this.#apply(fresh, repository, ref, info);
    for (const entry of journal) this.#apply(fresh, entry.repository, entry.ref, entry.op === 'add' ? entry.info : null);
    this.#repositories = fresh;
    this.#strayBytes = result.strayBytes;
  }

  /** Sets (info) or deletes (null) an entry, keeping the byte total in step; returns the old entry. */
  #apply(target: Map<string, RepositoryMap>, repository: string, ref: FileRef, info: ObjectInfo | null): ObjectInfo | undefined {
    let types = target.get(repository);
    if (types === undefined) {
      if (info === null) return undefined;
      types = new Map();
      target.set(repository, types);
    }
    let objects = types.get(ref.type);
    if (objects === undefined) {
      if (info === null) return undefined;
      objects = new Map();
      types.set(ref.type, objects);
    }
    const key = keyOf(ref);
    const previous = objects.get(key);
    if (previous !== undefined) this.#totalBytes -= previous.size;
    if (info === null) {
      objects.delete(key);
    } else {
      objects.set(key, info);
      this.#totalBytes += info.size;
    }
    return previous;
  }

  get strayBytes(): number {
    return this.#strayBytes;
  }

  stats(repository: string): RepositoryStats {
    const byType = {} as Record<ResticFileType, TypeStats>;
    for (const type of ['config', 'data', 'keys', 'locks', 'snapshots', 'index'] as const) byType[type] = emptyTypeStats();
    const byKind: KindStats = { full: emptyTypeStats(), incremental: emptyTypeStats(), metadata: emptyTypeStats() };
    const types = this.#repositories.get(repository);
    let firstSnapshotAtMs: number | null = null;
    let lastSnapshotAtMs: number | null = null;
    for (const info of types?.get('snapshots')?.values() ?? []) {
      firstSnapshotAtMs = firstSnapshotAtMs === null ? info.mtimeMs : Math.min(firstSnapshotAtMs, info.mtimeMs);
      lastSnapshotAtMs = lastSnapshotAtMs === null ? info.mtimeMs : Math.max(lastSnapshotAtMs, info.mtimeMs);
    }
    let objects = 0;
    let bytes = 0;
    for (const [type, entries] of types ?? []) {
      for (const info of entries.values()) {
        objects += 1;
        bytes += info.size;
        byType[type].objects += 1;
        byType[type].bytes += info.size;
        const kind = type !== 'data' ? byKind.metadata : firstSnapshotAtMs === null || info.mtimeMs <= firstSnapshotAtMs ? byKind.full : byKind.incremental;
        kind.objects += 1;
        kind.bytes += info.size;
      }
    }
    return { objects, bytes, byType, byKind, lastSnapshotAtMs, snapshotCount: byType.snapshots.objects };
  }

  /** Snapshot objects of a repository, newest first. */
  snapshots(repository: string): SnapshotObject[] {
    const entries = this.#repositories.get(repository)?.get('snapshots') ?? new Map<string, ObjectInfo>();
    return [...entries]
      .map(([id, info]) => ({ id, size: info.size, storedAtMs: info.mtimeMs }))
      .sort((a, b) => b.storedAtMs - a.storedAtMs || a.id.localeCompare(b.id));
  }
}
