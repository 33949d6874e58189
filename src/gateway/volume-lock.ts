/**
 * An exclusive lock shared by every process that sees one directory — gateway replicas on different
 * nodes mounting the space's RWX volume included. It guards the quota ledger (quota.ts), which is held
 * for the milliseconds one read-modify-write of a small file takes.
 *
 * How: the lock is a file created with O_CREAT|O_EXCL (`open(path, 'wx')`), holding a random token.
 * Creating a file exclusively is atomic on every POSIX filesystem a volume is served from, network
 * ones included (NFSv3 and later, CephFS, Longhorn's NFS share manager). Releasing removes it.
 *
 * Why not flock(2) or a library: Node's fs has no flock or fcntl locks; `fs-ext`, which adds them, is
 * a native addon (a compiler in the image, a rebuild per Node ABI, no release for years), and flock
 * over NFS is emulated with byte-range locks whose recovery after a client dies depends on the server
 * and its lease time. `proper-lockfile`, the common pure-JS choice, also works by exclusive creation
 * (mkdir) but judges a lock stale by comparing its mtime — set by the file server's clock — with the
 * local clock, so clock skew between nodes breaks live locks or keeps dead ones, and it has not been
 * released since 2021. What we need is small enough to own and test.
 *
 * A holder that died leaves its lock behind. Staleness is judged without comparing clocks of
 * different machines: a waiter that keeps seeing the *same* token for `staleMs` of its own waiting
 * (far longer than any hold) breaks the lock. Breaking renames the lock aside and checks the renamed
 * file is the stale one; if the rename caught a fresh lock instead (another waiter broke the stale one
 * and took it meanwhile), it is linked back under its name. Because a holder that was only paused
 * (a stalled NFS server, a stopped process) may find its lock broken when it resumes, the ledger asks
 * `verify()` right before it writes and gives up its write when the lock is no longer its own.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The lock could not be obtained within the wait limit (another holder keeps it, or the volume is stuck). */
export class LockUnavailableError extends Error {
  override readonly name = 'LockUnavailableError';
}

export interface VolumeLockOptions {
  /** Identifies this process in the token (for people reading a stuck lock file). */
  owner: string;
  /** How long one token may be seen unchanged before the lock is judged stale and broken. */
  staleMs: number;
  /** How long acquire() waits before giving up (should exceed staleMs, so a dead holder is outwaited). */
  waitMs: number;
}

function isErrorCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes(String((error as NodeJS.ErrnoException).code));
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return null;
    throw error;
  }
}

export class VolumeLock {
  readonly #path: string;
  readonly #options: VolumeLockOptions;
  #token: string | null = null;
  /** Locks this process broke as stale (tests and logs). */
  brokenStale = 0;

  constructor(path: string, options: VolumeLockOptions) {
    this.#path = path;
    this.#options = options;
  }

  get path(): string {
    return this.#path;
  }

  get held(): boolean {
    return this.#token !== null;
  }

  /** Waits until the lock is ours; throws LockUnavailableError after `waitMs`. */
  async acquire(): Promise<void> {
    if (this.#token !== null) throw new Error('lock already held by this process');
    const token = `${this.#options.owner} ${randomBytes(12).toString('hex')}\n`;
    const started = performance.now();
    let observed: string | null = null;
    let observedSince = 0;
    let delayMs = 1;
    for (;;) {
      if (await this.#tryCreate(token)) {
        this.#token = token;
        return;
      }
      const current = await readIfExists(this.#path);
      const now = performance.now();
      if (now - started >= this.#options.waitMs) throw new LockUnavailableError(`the lock ${this.#path} stayed taken for ${Math.round(now - started)} ms`);
      if (current === null) continue; // released meanwhile: try again at once
      if (current !== observed) {
        observed = current;
        observedSince = now;
      } else if (now - observedSince >= this.#options.staleMs) {
        await this.#breakStale(current);
        observed = null;
        continue;
      }
      await sleep(delayMs + Math.random() * delayMs);
      delayMs = Math.min(delayMs * 2, 16);
    }
  }

  /** True when the lock file still holds our token (nobody broke it). */
  async verify(): Promise<boolean> {
    return this.#token !== null && (await readIfExists(this.#path)) === this.#token;
  }

  /** Removes the lock if it is still ours (a lock someone broke and retook is left to its new holder). */
  async release(): Promise<void> {
    const token = this.#token;
    this.#token = null;
    if (token === null) return;
    if ((await readIfExists(this.#path)) !== token) return;
    await unlink(this.#path).catch((error: unknown) => {
      if (!isErrorCode(error, 'ENOENT')) throw error;
    });
  }

  async #tryCreate(token: string): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.#path, 'wx', 0o600);
    } catch (error) {
      if (isErrorCode(error, 'EEXIST')) return false;
      if (isErrorCode(error, 'ENOENT')) {
        await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
        return false;
      }
      throw error;
    }
    try {
      await handle.writeFile(token);
      await handle.close();
    } catch (error) {
      // E.g. ENOSPC: a lock without its token would look stale only after staleMs; take it back now.
      await handle.close().catch(() => undefined);
      await unlink(this.#path).catch(() => undefined);
      throw error;
    }
    return true;
  }

  /** Removes the lock holding `staleToken`, and only that one. */
  async #breakStale(staleToken: string): Promise<void> {
    const aside = `${this.#path}.stale-${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.#path, aside);
    } catch (error) {
      if (isErrorCode(error, 'ENOENT')) return;
      throw error;
    }
    const moved = await readIfExists(aside);
    if (moved === staleToken) {
      this.brokenStale += 1;
    } else {
      // We caught a fresh lock: give it back under its name, unless someone has taken the name since
      // (then its holder finds out through verify() before it writes).
      await link(aside, this.#path).catch(() => undefined);
    }
    await unlink(aside).catch(() => undefined);
  }
}
