/**
 * The space quota: one account per space, shared by every gateway replica of the space over the
 * space volume (each replica has its own ObjectIndex, which only learns of other replicas' writes at
 * its next rescan, so it cannot be the account: N replicas would admit N times the quota).
 *
 * The account is a ledger file on the volume, `<data-dir>/.tenant-backup/quota.json`, changed only
 * under an exclusive lock (volume-lock.ts) by one read-modify-write. It holds
 *  - usedBytes: plaintext bytes stored in the space (what clients wrote, all repositories, plus stray
 *    files), kept current by every replica on every committed write and delete;
 *  - reservations: bytes of uploads in flight, each reserved *before* a byte of it is written — its
 *    declared Content-Length, or, without one, grown as the body arrives;
 *  - the replicas that take part, each with a heartbeat counter.
 * An upload is admitted only while usedBytes + every reservation of every replica + its own size fits
 * the quota, so two gateways sharing the directory can never together exceed it. A successful upload
 * turns its reservation into usedBytes in one step, after its file got its final name; a refused or
 * failed one gives its reservation back. A delete is announced before the file is unlinked and
 * subtracted after. Lock files are exempt from refusal (still counted): restic needs a lock to run
 * `check`, `forget` and `prune`, which are exactly what a full space needs to recover, and locks are
 * tiny.
 *
 * Failures make the ledger count too much, not too little (one exception at the end), until the next
 * reconciliation:
 *  - A replica that stops beating (crashed, or cut off) for `ownerStaleMs` — judged by the counter
 *    not moving while others watch, never by comparing clocks of different nodes — has its
 *    reservations moved to `orphans`, still counted (its upload may have landed just before it died),
 *    and its announced deletes dropped without subtracting.
 *  - The periodic rescan of the data directory (server.ts: at startup and every 10 minutes) is the
 *    reconciliation: it registers itself (from then on every change is also appended to a journal
 *    file), walks the disk without holding the lock, then under the lock replays the journal onto
 *    what it found, key by key, and sets usedBytes to the result. Replaying "object X now exists /
 *    is gone" onto any snapshot taken during the walk gives the state at the end, so writes and
 *    deletes by any replica during the walk are neither lost nor counted twice. Orphans older than
 *    the walk are dropped then (the walk saw whatever they became).
 *  - One window stays, in the safe direction: an upload that got its final name while a walk was
 *    running and whose commit comes after the walk's end is counted twice until the next walk.
 *
 * The file is rewritten in place, padded to a multiple of 64 KiB and never shrunk, so that updates —
 * a release or a delete in particular — need no new disk blocks and still work on a full volume. It
 * is not fsynced: a crash of the process loses nothing (the page cache survives it); a crash of the
 * node may lose the last updates or tear the file, which the next startup reconciliation (every
 * replica reconciles before it listens) repairs; a ledger that cannot be parsed, or was deleted, is
 * rebuilt from the replica's own index and reconciled at once (the one case that can count too
 * little, while that reconciliation walks: the index may not know other replicas' latest writes).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { fileRefName, type FileRef } from './paths.ts';
import { VolumeLock } from './volume-lock.ts';

export { GATEWAY_STATE_DIR } from './paths.ts';

/** Locks larger than this are not exempt from refusal; restic's are a few hundred bytes. */
export const EXEMPT_LOCK_MAX_BYTES = 64 * 1024;

export const LEDGER_FILE = 'quota.json';
export const LEDGER_LOCK_FILE = 'quota.lock';
export const LEDGER_JOURNAL_FILE = 'quota-journal.ndjson';

const LEDGER_VERSION = 1;
const PAD_BYTES = 64 * 1024;
/** A streamed upload grows its reservation at least this much at a time (fewer ledger updates). */
const GROW_STEP_BYTES = 1024 * 1024;
const GROW_STEP_MAX_BYTES = 64 * 1024 * 1024;

export class QuotaExceededError extends Error {
  override readonly name = 'QuotaExceededError';
  constructor() {
    super('space quota exceeded');
  }
}

/** The ledger could not be read or written (lock not obtained in time, I/O error other than a full disk). */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

/** The name an object has in the ledger and its journal: `<repository>/<config | type/id>`. */
export function ledgerKey(repository: string, ref: FileRef): string {
  return `${repository}/${fileRefName(ref)}`;
}

export interface QuotaTiming {
  /** How often a replica shows it is alive (and refreshes the figures it reports). */
  heartbeatMs: number;
  /** A replica whose heartbeat did not move for this long is taken for dead. */
  ownerStaleMs: number;
  /** A lock file unchanged for this long (while we wait for it) is taken for stale and broken. */
  lockStaleMs: number;
  /** How long an update waits for the lock before it fails. */
  lockWaitMs: number;
  /** How soon an update that must not be lost (commit, release, delete) is tried again after a failure. */
  retryMs: number;
}

export const DEFAULT_QUOTA_TIMING: QuotaTiming = { heartbeatMs: 5_000, ownerStaleMs: 60_000, lockStaleMs: 10_000, lockWaitMs: 30_000, retryMs: 1_000 };

interface LedgerState {
  version: number;
  /** Increases with every change that a reconciliation must order (commits, deletes, orphaning). */
  seq: number;
  usedBytes: number;
  /** Replicas taking part → heartbeat counter (bumped on each of their updates). */
  owners: Map<string, number>;
  reservations: Map<string, { owner: string; bytes: number }>;
  /** Announced deletes; `settled` once a reconciliation found the object gone (then nothing is subtracted). */
  removals: Map<string, { owner: string; key: string; bytes: number; settled: boolean }>;
  /** Reservations of replicas taken for dead, still counted until a reconciliation that began after `seq`. */
  orphans: { seq: number; bytes: number }[];
  /** Reconciliations under way: changes after `startSeq` are journaled for them; `valid` false if the journal failed. */
  scans: Map<string, { owner: string; startSeq: number; valid: boolean }>;
  /** Journal lines written since the journal was last emptied. */
  journalLines: number;
  /** When the last reconciliation finished (ms since the epoch, by the clock of the replica that did it). */
  reconciledAtMs: number | null;
}

interface JournalEntry {
  seq: number;
  op: 'add' | 'remove';
  key: string;
  bytes?: number;
}

/** What a reconciliation walked: every repository object with its plaintext size, and stray bytes. */
export interface ReconcileScan {
  objects: readonly { repository: string; ref: FileRef; info: { size: number } }[];
  strayBytes: number;
}

export interface ReconcileTicket {
  id: string;
}

/** A delete announced to the ledger: report what became of it. */
export interface AnnouncedRemoval {
  /** The file is gone: subtract it (unless a reconciliation already did). */
  removed(): Promise<void>;
  /** The unlink failed (or found nothing): forget the announcement. */
  failed(): Promise<void>;
}

type Op =
  | { kind: 'reserve'; id: string; bytes: number; exempt: boolean }
  | { kind: 'grow'; id: string; wanted: number; minimum: number; exempt: boolean }
  | { kind: 'commit'; id: string; key: string; bytes: number }
  | { kind: 'release'; id: string }
  | { kind: 'removing'; id: string; key: string; bytes: number }
  | { kind: 'removed'; id: string }
  | { kind: 'removeFailed'; id: string }
  | { kind: 'beginScan'; id: string }
  | { kind: 'finishScan'; id: string; scan: ReconcileScan }
  | { kind: 'abandonScan'; id: string }
  | { kind: 'beat' }
  | { kind: 'leave' };

/** Updates that describe what already happened on disk: never dropped, retried until applied. */
const MUST_APPLY = new Set<Op['kind']>(['commit', 'release', 'removed', 'removeFailed', 'abandonScan', 'leave']);

interface Queued {
  op: Op;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** A must-apply update already answered its caller (after a failed attempt) and is being retried. */
  answered: boolean;
}

function isErrorCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes(String((error as NodeJS.ErrnoException).code));
}

/** The volume is full (or a filesystem quota is reached): the answer is 507, as for the space quota. */
export function isVolumeFull(error: unknown): boolean {
  return isErrorCode(error, 'ENOSPC', 'EDQUOT');
}

function emptyState(usedBytes: number): LedgerState {
  return { version: LEDGER_VERSION, seq: 0, usedBytes, owners: new Map(), reservations: new Map(), removals: new Map(), orphans: [], scans: new Map(), journalLines: 0, reconciledAtMs: null };
}

/** The ledger as stored: JSON, its maps as objects. */
export function serializeLedger(state: LedgerState): string {
  return JSON.stringify({
    ...state,
    owners: Object.fromEntries(state.owners),
    reservations: Object.fromEntries(state.reservations),
    removals: Object.fromEntries(state.removals),
    scans: Object.fromEntries(state.scans),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The parsed ledger, or null when it is not one we wrote (torn, edited, another version). */
export function parseLedger(text: string): LedgerState | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value) || value.version !== LEDGER_VERSION || !isCount(value.seq) || !isCount(value.usedBytes) || !isCount(value.journalLines)) return null;
  const { owners, reservations, removals, orphans, scans } = value;
  if (!isRecord(owners) || !Object.values(owners).every(isCount)) return null;
  if (!isRecord(reservations) || !Object.values(reservations).every((r) => isRecord(r) && typeof r.owner === 'string' && isCount(r.bytes))) return null;
  if (!isRecord(removals) || !Object.values(removals).every((r) => isRecord(r) && typeof r.owner === 'string' && typeof r.key === 'string' && isCount(r.bytes) && typeof r.settled === 'boolean')) return null;
  if (!Array.isArray(orphans) || !orphans.every((o) => isRecord(o) && isCount(o.seq) && isCount(o.bytes))) return null;
  if (!isRecord(scans) || !Object.values(scans).every((s) => isRecord(s) && typeof s.owner === 'string' && isCount(s.startSeq) && typeof s.valid === 'boolean')) return null;
  if (value.reconciledAtMs !== null && typeof value.reconciledAtMs !== 'number') return null;
  return {
    version: LEDGER_VERSION,
    seq: value.seq,
    usedBytes: value.usedBytes,
    owners: new Map(Object.entries(owners as Record<string, number>)),
    reservations: new Map(Object.entries(reservations as LedgerRecords['reservations'])),
    removals: new Map(Object.entries(removals as LedgerRecords['removals'])),
    orphans: orphans as LedgerState['orphans'],
    scans: new Map(Object.entries(scans as LedgerRecords['scans'])),
    journalLines: value.journalLines,
    reconciledAtMs: value.reconciledAtMs,
  };
}

type Entries<M> = M extends Map<string, infer V> ? Record<string, V> : never;
interface LedgerRecords {
  reservations: Entries<LedgerState['reservations']>;
  removals: Entries<LedgerState['removals']>;
  scans: Entries<LedgerState['scans']>;
}

function sumReserved(state: LedgerState): number {
  let total = 0;
  for (const reservation of state.reservations.values()) total += reservation.bytes;
  for (const orphan of state.orphans) total += orphan.bytes;
  return total;
}

export interface SpaceQuotaOptions {
  /** The directory of the ledger: `<data-dir>/.tenant-backup`. */
  directory: string;
  /** Current limit (from the access configuration, which may be reloaded). */
  limitBytes: () => number;
  log: Logger;
  /** What to count as used when the ledger is missing or unreadable (until the reconciliation that follows). */
  seedUsedBytes?: () => number;
  /** Called when the ledger needs a reconciliation soon (it was rebuilt, or a dead replica's reservations were orphaned). */
  onReconcileNeeded?: (reason: string) => void;
  timing?: Partial<QuotaTiming>;
  /** This replica's name in the ledger (default: host name, pid and a random suffix). */
  owner?: string;
}

/** The space's account, as one replica takes part in it. */
export class SpaceQuota {
  readonly #options: SpaceQuotaOptions;
  readonly #timing: QuotaTiming;
  readonly #owner: string;
  readonly #lock: VolumeLock;
  readonly #ledgerPath: string;
  readonly #journalPath: string;
  readonly #queue: Queued[] = [];
  /** Must-apply updates that failed, waiting for the retry timer. */
  readonly #deferred: Queued[] = [];
  /** Heartbeat counters of other replicas as last seen, and when (our monotonic clock) they last moved. */
  readonly #observed = new Map<string, { beat: number; sinceMs: number }>();
  #running = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #nextId = 0;
  #closed = false;
  #usedBytes = 0;
  #reservedBytes = 0;
  #replicas = 0;
  #reconciledAtMs: number | null = null;

  constructor(options: SpaceQuotaOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_QUOTA_TIMING, ...options.timing };
    this.#owner = options.owner ?? `${hostname().slice(0, 63)}/${process.pid}/${randomBytes(3).toString('hex')}`;
    this.#ledgerPath = join(options.directory, LEDGER_FILE);
    this.#journalPath = join(options.directory, LEDGER_JOURNAL_FILE);
    this.#lock = new VolumeLock(join(options.directory, LEDGER_LOCK_FILE), { owner: this.#owner, staleMs: this.#timing.lockStaleMs, waitMs: this.#timing.lockWaitMs });
  }

  get owner(): string {
    return this.#owner;
  }

  /** Plaintext bytes stored in the space, as of this replica's last look at the ledger. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Bytes reserved by uploads in flight on every replica (and by dead replicas' orphans), as last seen. */
  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  /** Replicas taking part in the account, as last seen. */
  get replicas(): number {
    return this.#replicas;
  }

  get reconciledAt(): Date | null {
    return this.#reconciledAtMs === null ? null : new Date(this.#reconciledAtMs);
  }

  /** Stale locks this replica broke (a replica died holding the lock). */
  get staleLocksBroken(): number {
    return this.#lock.brokenStale;
  }

  /** Joins the account (creating the ledger when there is none) and starts the heartbeat. */
  async open(): Promise<void> {
    await mkdir(this.#options.directory, { recursive: true, mode: 0o700 });
    await this.refresh();
    this.#heartbeat = setInterval(() => {
      this.refresh().catch((error: unknown) => this.#options.log.warn({ err: error }, 'quota ledger heartbeat failed'));
    }, this.#timing.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Leaves the account (after the server drained its requests): what this replica still reserved is orphaned. */
  async close(): Promise<void> {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#queue.unshift(...this.#deferred.splice(0));
    await this.#submit({ kind: 'leave' }).catch(() => undefined);
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
  }

  /** Reads the ledger now (and beats): the figures above are then current. */
  async refresh(): Promise<void> {
    await this.#submit({ kind: 'beat' });
  }

  /**
   * Reserves `bytes` for an upload. Resolves null when that would exceed the quota (unless `exempt`).
   * With 0 bytes (length not declared) nothing is written yet; the reservation grows as data arrives.
   * Rejects with LedgerUnavailableError, or a volume-full error, when the ledger cannot be updated.
   */
  async reserve(bytes: number, options: { exempt?: boolean } = {}): Promise<Reservation | null> {
    const exempt = options.exempt === true;
    const id = this.#newId();
    if (bytes > 0 && !(await this.#submit({ kind: 'reserve', id, bytes, exempt }))) return null;
    return new Reservation(this, id, bytes, exempt);
  }

  /**
   * Announces the delete of an object of `bytes` (plaintext). Call before unlinking, then report the
   * outcome on the result. Rejects when the ledger cannot be updated: then delete anyway and do not
   * report (the ledger counts the object until the next reconciliation — too much, never too little).
   */
  async removing(key: string, bytes: number): Promise<AnnouncedRemoval> {
    const id = this.#newId();
    await this.#submit({ kind: 'removing', id, key, bytes });
    let reported = false;
    const report = async (kind: 'removed' | 'removeFailed'): Promise<void> => {
      if (reported) return;
      reported = true;
      await this.#submit({ kind, id });
    };
    return { removed: () => report('removed'), failed: () => report('removeFailed') };
  }

  /** Registers a reconciliation; walk the disk only after this resolved. */
  async beginReconcile(): Promise<ReconcileTicket> {
    const id = this.#newId();
    await this.#submit({ kind: 'beginScan', id });
    return { id };
  }

  /** Sets usedBytes from the walk plus the changes made during it. False when the result had to be discarded. */
  async finishReconcile(ticket: ReconcileTicket, scan: ReconcileScan): Promise<boolean> {
    return (await this.#submit({ kind: 'finishScan', id: ticket.id, scan })) as boolean;
  }

  async abandonReconcile(ticket: ReconcileTicket): Promise<void> {
    await this.#submit({ kind: 'abandonScan', id: ticket.id });
  }

  /** @internal Reservation → ledger */
  grow(id: string, wanted: number, minimum: number, exempt: boolean): Promise<number | null> {
    return this.#submit({ kind: 'grow', id, wanted, minimum, exempt }) as Promise<number | null>;
  }

  /** @internal Reservation → ledger */
  async settle(op: { kind: 'commit'; id: string; key: string; bytes: number } | { kind: 'release'; id: string }): Promise<void> {
    await this.#submit(op);
  }

  #newId(): string {
    this.#nextId += 1;
    return `${this.#owner}#${this.#nextId}`;
  }

  #submit(op: Op): Promise<unknown> {
    if (this.#closed) return Promise.reject(new LedgerUnavailableError('the quota ledger is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject, answered: false });
      void this.#drain();
    });
  }

  /** Applies queued updates, as many at a time as are waiting, one lock hold per batch. */
  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        let results: unknown[];
        try {
          results = await this.#applyBatch(batch.map((queued) => queued.op));
        } catch (error) {
          this.#failBatch(batch, error);
          continue;
        }
        batch.forEach((queued, i) => {
          if (!queued.answered) queued.resolve(results[i]);
        });
      }
    } finally {
      this.#running = false;
    }
  }

  #failBatch(batch: Queued[], error: unknown): void {
    const cause = isVolumeFull(error) || error instanceof LedgerUnavailableError ? error : new LedgerUnavailableError(`the quota ledger could not be updated: ${(error as Error).message}`, { cause: error });
    const retry: Queued[] = [];
    for (const queued of batch) {
      if (MUST_APPLY.has(queued.op.kind) && !this.#closed) {
        // It happened on disk whatever the ledger says: answer the caller, keep trying in the background.
        if (!queued.answered) queued.resolve(undefined);
        queued.answered = true;
        retry.push(queued);
      } else if (!queued.answered) {
        queued.reject(cause);
      }
    }
    this.#options.log.warn({ err: error, updates: batch.length, retried: retry.length }, 'quota ledger update failed');
    this.#deferred.push(...retry);
    if (this.#deferred.length === 0 || this.#retryTimer !== null) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#queue.unshift(...this.#deferred.splice(0));
      void this.#drain();
    }, this.#timing.retryMs);
    this.#retryTimer.unref();
  }

  async #applyBatch(ops: Op[]): Promise<unknown[]> {
    try {
      await this.#lock.acquire();
    } catch (error) {
      throw isVolumeFull(error) ? error : new LedgerUnavailableError(`the quota ledger lock was not obtained: ${(error as Error).message}`, { cause: error });
    }
    try {
      const state = await this.#read();
      const journal = new JournalWriter(this.#journalPath, ops.some((op) => op.kind === 'finishScan'));
      await journal.load();
      const orphaned = this.#expireStale(state);
      state.owners.set(this.#owner, (state.owners.get(this.#owner) ?? 0) + 1);
      const results = ops.map((op) => this.#apply(state, op, journal));
      if (journal.pending.length > 0) {
        try {
          await journal.append();
          state.journalLines += journal.pending.length;
        } catch (error) {
          // Without these lines a reconciliation under way would miss changes: it must not be applied.
          for (const scan of state.scans.values()) scan.valid = false;
          this.#options.log.warn({ err: error }, 'quota journal could not be written; the reconciliations under way will be discarded');
        }
      }
      if (state.scans.size === 0 && state.journalLines > 0) {
        try {
          await truncate(this.#journalPath, 0);
          state.journalLines = 0;
        } catch (error) {
          if (isErrorCode(error, 'ENOENT')) state.journalLines = 0;
          else this.#options.log.warn({ err: error }, 'quota journal could not be emptied; tried again with the next update');
        }
      }
      if (!(await this.#lock.verify())) throw new LedgerUnavailableError('the quota ledger lock was broken while held (this replica stalled); the update will be retried');
      await this.#write(state);
      this.#usedBytes = state.usedBytes;
      this.#reservedBytes = sumReserved(state);
      this.#replicas = state.owners.size;
      this.#reconciledAtMs = state.reconciledAtMs;
      if (orphaned > 0) this.#options.onReconcileNeeded?.(`the reservations of ${orphaned} replica(s) that stopped were orphaned`);
      return results;
    } finally {
      await this.#lock.release().catch(() => undefined);
    }
  }

  async #read(): Promise<LedgerState> {
    let text: string;
    try {
      text = await readFile(this.#ledgerPath, 'utf8');
    } catch (error) {
      if (!isErrorCode(error, 'ENOENT')) throw error;
      return this.#rebuilt('the quota ledger does not exist yet; created', 'info');
    }
    return parseLedger(text) ?? this.#rebuilt('the quota ledger could not be read (torn or edited); rebuilt', 'warn');
  }

  #rebuilt(reason: string, level: 'info' | 'warn'): LedgerState {
    const seed = this.#options.seedUsedBytes?.() ?? 0;
    this.#options.log[level]({ usedBytes: seed }, reason);
    this.#options.onReconcileNeeded?.(reason);
    // The journal, if any, belonged to reconciliations of the lost ledger.
    return { ...emptyState(seed), journalLines: 1 };
  }

  async #write(state: LedgerState): Promise<void> {
    const text = Buffer.from(serializeLedger(state), 'utf8');
    const handle = await open(this.#ledgerPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      const current = (await handle.stat()).size;
      const size = Math.max(current, Math.ceil((text.length + 1) / PAD_BYTES) * PAD_BYTES);
      const padded = Buffer.alloc(size, 0x20);
      text.copy(padded);
      padded[size - 1] = 0x0a;
      let written = 0;
      while (written < size) written += (await handle.write(padded, written, size - written, written)).bytesWritten;
    } finally {
      await handle.close();
    }
  }

  /** Orphans replicas whose heartbeat has not moved for ownerStaleMs; returns how many. */
  #expireStale(state: LedgerState): number {
    const now = performance.now();
    let orphaned = 0;
    for (const [owner, beat] of state.owners) {
      if (owner === this.#owner) continue;
      const seen = this.#observed.get(owner);
      if (seen === undefined || seen.beat !== beat) {
        this.#observed.set(owner, { beat, sinceMs: now });
        continue;
      }
      if (now - seen.sinceMs < this.#timing.ownerStaleMs) continue;
      this.#options.log.warn({ replica: owner }, 'quota ledger: a replica stopped beating; its reservations stay counted until the next reconciliation');
      this.#orphan(state, owner);
      this.#observed.delete(owner);
      orphaned += 1;
    }
    for (const owner of this.#observed.keys()) if (!state.owners.has(owner)) this.#observed.delete(owner);
    return orphaned;
  }

  #orphan(state: LedgerState, owner: string): void {
    let bytes = 0;
    for (const [id, reservation] of state.reservations) {
      if (reservation.owner !== owner) continue;
      bytes += reservation.bytes;
      state.reservations.delete(id);
    }
    if (bytes > 0) {
      state.seq += 1;
      state.orphans.push({ seq: state.seq, bytes });
    }
    // Its announced deletes may or may not have happened: keep counting the objects (too much, never too little).
    for (const [id, removal] of state.removals) if (removal.owner === owner) state.removals.delete(id);
    for (const [id, scan] of state.scans) if (scan.owner === owner) state.scans.delete(id);
    state.owners.delete(owner);
  }

  #apply(state: LedgerState, op: Op, journal: JournalWriter): unknown {
    const limit = this.#options.limitBytes();
    const fits = (bytes: number): boolean => state.usedBytes + sumReserved(state) + bytes <= limit;
    const journaling = [...state.scans.values()].some((scan) => scan.valid);
    switch (op.kind) {
      case 'beat':
        return undefined;
      case 'reserve':
        if (!op.exempt && !fits(op.bytes)) return false;
        state.reservations.set(op.id, { owner: this.#owner, bytes: op.bytes });
        return true;
      case 'grow': {
        // A reservation orphaned while this replica stalled is simply made anew.
        const held = state.reservations.get(op.id)?.bytes ?? 0;
        const granted = op.exempt || fits(op.wanted - held) ? op.wanted : fits(op.minimum - held) ? op.minimum : null;
        if (granted !== null) state.reservations.set(op.id, { owner: this.#owner, bytes: granted });
        return granted;
      }
      case 'commit':
        state.reservations.delete(op.id);
        state.usedBytes += op.bytes;
        state.seq += 1;
        if (journaling) journal.add({ seq: state.seq, op: 'add', key: op.key, bytes: op.bytes });
        return undefined;
      case 'release':
        state.reservations.delete(op.id);
        return undefined;
      case 'removing':
        state.removals.set(op.id, { owner: this.#owner, key: op.key, bytes: op.bytes, settled: false });
        return undefined;
      case 'removed': {
        const removal = state.removals.get(op.id);
        state.removals.delete(op.id);
        // Missing: it was dropped as a dead replica's, and a reconciliation may have counted the file gone already.
        if (removal === undefined) return undefined;
        if (!removal.settled) state.usedBytes = Math.max(0, state.usedBytes - removal.bytes);
        state.seq += 1;
        if (journaling) journal.add({ seq: state.seq, op: 'remove', key: removal.key });
        return undefined;
      }
      case 'removeFailed':
        state.removals.delete(op.id);
        return undefined;
      case 'beginScan':
        state.scans.set(op.id, { owner: this.#owner, startSeq: state.seq, valid: true });
        return undefined;
      case 'abandonScan':
        state.scans.delete(op.id);
        return undefined;
      case 'leave':
        this.#orphan(state, this.#owner);
        return undefined;
      case 'finishScan':
        return this.#finishScan(state, op.id, op.scan, journal);
    }
  }

  #finishScan(state: LedgerState, id: string, scan: ReconcileScan, journal: JournalWriter): boolean {
    const registered = state.scans.get(id);
    state.scans.delete(id);
    if (registered === undefined || !registered.valid || journal.entries === null) {
      this.#options.log.warn({ registered: registered !== undefined }, 'quota reconciliation discarded (changes made during the walk may have gone unrecorded); the next one will do');
      return false;
    }
    const changes = journal.entries.filter((entry) => entry.seq > registered.startSeq);
    const changed = new Set(changes.map((entry) => entry.key));
    const announced = [...state.removals.values()].filter((removal) => !removal.settled);
    // Sizes the walk found for the keys that changed during it or whose delete is announced.
    const interesting = new Set([...changed, ...announced.map((removal) => removal.key)]);
    const found = new Map<string, number>();
    let total = scan.strayBytes;
    for (const object of scan.objects) {
      total += object.info.size;
      if (interesting.size === 0) continue;
      const key = ledgerKey(object.repository, object.ref);
      if (interesting.has(key)) found.set(key, object.info.size);
    }
    // Replay: each key ends as the last change made to it says, whatever the walk saw of it.
    const final = new Map(found);
    for (const entry of changes) {
      if (entry.op === 'add') final.set(entry.key, entry.bytes ?? 0);
      else final.delete(entry.key);
    }
    for (const key of changed) total += (final.get(key) ?? 0) - (found.get(key) ?? 0);
    // A delete announced but not yet reported subtracts later only if this result still counts its object.
    for (const removal of announced) if (!final.has(removal.key)) removal.settled = true;
    const before = state.usedBytes;
    state.usedBytes = total;
    state.orphans = state.orphans.filter((orphan) => orphan.seq > registered.startSeq);
    state.reconciledAtMs = Date.now();
    if (before !== total) this.#options.log.info({ ledgerBytes: before, reconciledBytes: total, changesDuringWalk: changes.length }, 'quota ledger reconciled with the data directory');
    return true;
  }
}

/** Journal lines of one batch, and (when a reconciliation finishes in it) the journal read so far. */
class JournalWriter {
  readonly #path: string;
  readonly #read: boolean;
  readonly pending: JournalEntry[] = [];
  entries: JournalEntry[] | null = null;

  constructor(path: string, read: boolean) {
    this.#path = path;
    this.#read = read;
  }

  async load(): Promise<void> {
    if (!this.#read) return;
    let text = '';
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if (!isErrorCode(error, 'ENOENT')) return; // entries stay null: the reconciliation is discarded
    }
    const entries: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        return; // a torn line: the journal cannot be trusted
      }
    }
    this.entries = entries;
  }

  add(entry: JournalEntry): void {
    this.pending.push(entry);
    this.entries?.push(entry);
  }

  async append(): Promise<void> {
    await writeFile(this.#path, this.pending.map((entry) => `${JSON.stringify(entry)}\n`).join(''), { flag: 'a', mode: 0o600 });
  }
}

/** One upload's share of the account. */
export class Reservation {
  readonly #quota: SpaceQuota;
  readonly #id: string;
  readonly #exempt: boolean;
  #bytes: number;
  #settled = false;

  constructor(quota: SpaceQuota, id: string, bytes: number, exempt: boolean) {
    this.#quota = quota;
    this.#id = id;
    this.#bytes = bytes;
    this.#exempt = exempt;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Makes sure at least `total` bytes are reserved: true at once when they are, otherwise a promise of
   * whether the ledger granted them (false: the quota forbids it; nothing changed). Grows ahead of
   * need (doubling, from 1 MiB up to 64 MiB at a time) when the quota leaves room, so that a streamed
   * upload updates the ledger a handful of times, not once per network read.
   */
  ensure(total: number): true | Promise<boolean> {
    if (this.#settled) throw new Error('reservation already settled');
    if (total <= this.#bytes) return true;
    const ahead = Math.max(total, this.#bytes + Math.min(Math.max(this.#bytes, GROW_STEP_BYTES), GROW_STEP_MAX_BYTES));
    return this.#quota.grow(this.#id, ahead, total, this.#exempt).then((granted) => {
      if (granted === null) return false;
      this.#bytes = granted;
      return true;
    });
  }

  /** The object of `bytes` got its final name: count it as stored, in place of the reservation. */
  async commit(key: string, bytes: number): Promise<void> {
    if (this.#settled) throw new Error('reservation already settled');
    this.#settled = true;
    await this.#quota.settle({ kind: 'commit', id: this.#id, key, bytes });
  }

  /** Gives the reserved bytes back (upload refused, failed or found existing); idempotent, and nothing after commit. */
  async release(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#bytes > 0) await this.#quota.settle({ kind: 'release', id: this.#id });
  }
}
