/**
 * The files of the space's restic repositories on disk (layout in paths.ts): atomic, durable writes
 * and plaintext reads, transparently encrypted at rest when asked.
 *
 * A write streams into a temporary file beside the final name, is fsynced, then linked to the final
 * name (link fails if the name exists, so an object is never replaced — restic's REST backend assumes
 * no overwrites) and the directory is fsynced. A failed or abandoned upload — a full volume (ENOSPC)
 * included — removes its temporary file, so partial uploads never become visible objects; temporary
 * files left by a crash are removed by a later scan once nobody has written them for
 * TEMPORARY_MAX_AGE_MS (another replica sharing the volume may be writing a young one right now).
 * Every committed write and delete is reported to the ObjectIndex (this replica's statistics) and to
 * the space's shared quota ledger (quota.ts): a write turns its reservation into stored bytes after it
 * got its final name; a delete is announced before the unlink and subtracted after it.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import {
  AT_REST_HEADER_BYTES,
  AtRestIntegrityError,
  StreamEncryptor,
  createDecryptStream,
  hasAtRestMagic,
  parseHeader,
  planRange,
  plaintextSize,
  type AtRestContext,
  type AtRestHeader,
} from './at-rest.ts';
import type { ObjectIndex, ObjectInfo, ScannedObject } from './object-index.ts';
import { GATEWAY_STATE_DIR, ledgerKey, type AnnouncedRemoval, type SpaceQuota } from './quota.ts';
import type { UploadChecker } from './upload-guard.ts';
import {
  RESTIC_OBJECT_TYPES,
  fileDirectory,
  filePath,
  fileRefName,
  isObjectId,
  isObjectType,
  isTemporaryFileName,
  repositoryDirectory,
  temporaryFileName,
  type FileRef,
  type ResticObjectType,
} from './paths.ts';

/** What encrypting or decrypting an object needs besides the object's name. */
export interface AtRestKeys {
  dataKey: Uint8Array;
  spaceUid: string;
}

/** An object is encrypted at rest but no data key is available (sealed gateway). */
export class KeyUnavailableError extends Error {
  override readonly name = 'KeyUnavailableError';
  constructor() {
    super('the object is encrypted at rest and the data key is not available');
  }
}

/** The body stream ended without completing (the client went away mid-upload). */
export class SourceAbortedError extends Error {
  override readonly name = 'SourceAbortedError';
  constructor() {
    super('the upload was interrupted before its end');
  }
}

export interface ListedObject {
  name: string;
  size: number;
}

/** An object opened for reading: its plaintext size, then one read of a byte range. */
export interface OpenedObject {
  size: number;
  mtimeMs: number;
  /** Plaintext bytes [start, end] (inclusive, within 0..size-1; any range when size is 0). */
  read(start: number, end: number): Readable;
  /** Releases the file without reading. */
  close(): Promise<void>;
}

export type PutResult = { status: 'created'; info: ObjectInfo } | { status: 'exists' };

const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;
const STAT_CONCURRENCY = 32;
/**
 * An upload's temporary file nobody has written for this long is abandoned (its writer crashed): the
 * server cuts a connection after 3 minutes of silence, and an upload in progress writes its file at
 * least every MiB.
 */
export const TEMPORARY_MAX_AGE_MS = 15 * 60_000;

/** What the object store tells the space's account about deletes (SpaceQuota in the gateway). */
export type RemovalAccounting = Pick<SpaceQuota, 'removing'>;

function isErrorCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes(String((error as NodeJS.ErrnoException).code));
}

export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) {
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Reads the at-rest header of an open file, or null when the file is stored in plain. */
async function readHeader(handle: FileHandle, fileBytes: number): Promise<AtRestHeader | null> {
  if (fileBytes < AT_REST_HEADER_BYTES) return null;
  const bytes = Buffer.alloc(AT_REST_HEADER_BYTES);
  const { bytesRead } = await handle.read(bytes, 0, AT_REST_HEADER_BYTES, 0);
  if (bytesRead < AT_REST_HEADER_BYTES || !hasAtRestMagic(bytes)) return null;
  return parseHeader(bytes);
}

/** Plaintext size of the file at `path` with stats `stats` (reads the header only when it may be encrypted). */
async function plaintextSizeOf(path: string, stats: Stats): Promise<number> {
  if (stats.size < AT_REST_HEADER_BYTES) return stats.size;
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const header = await readHeader(handle, stats.size);
    if (header === null) return stats.size;
    const size = plaintextSize(stats.size, header.chunkBytes);
    if (size === null) throw new AtRestIntegrityError(`encrypted object ${path} has an impossible size (truncated?)`);
    return size;
  } finally {
    await handle.close();
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a directory; the file itself was synced.
    if (!isErrorCode(error, 'EINVAL', 'ENOTSUP', 'EISDIR')) throw error;
  } finally {
    await handle.close();
  }
}

/** Links `from` to `to` unless `to` exists; falls back to rename where hard links are unsupported. */
async function linkNoReplace(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if (isErrorCode(error, 'EEXIST')) return false;
    if (!isErrorCode(error, 'EPERM', 'ENOTSUP', 'ENOSYS', 'EXDEV')) throw error;
  }
  // No hard links (some network filesystems): check then rename; the window is tiny and the content
  // of both is identical when the name is a content hash.
  if (await lstat(to).then(() => true, () => false)) return false;
  await rename(from, to);
  return true;
}

export class ObjectStore {
  readonly #dataDir: string;
  readonly #index: ObjectIndex;
  readonly #quota: RemovalAccounting;

  constructor(dataDir: string, index: ObjectIndex, quota: RemovalAccounting) {
    this.#dataDir = dataDir;
    this.#index = index;
    this.#quota = quota;
  }

  repositoryDir(repository: string): string {
    return repositoryDirectory(this.#dataDir, repository);
  }

  /** Creates the repository's directories (idempotent). */
  async createRepository(repository: string): Promise<void> {
    const root = this.repositoryDir(repository);
    await mkdir(root, { recursive: true, mode: DIRECTORY_MODE });
    for (const type of RESTIC_OBJECT_TYPES) await mkdir(join(root, type), { recursive: true, mode: DIRECTORY_MODE });
  }

  /** True when the file exists (as any kind of directory entry: nothing may replace it). */
  async exists(repository: string, ref: FileRef): Promise<boolean> {
    try {
      await lstat(filePath(this.repositoryDir(repository), ref));
      return true;
    } catch (error) {
      if (isErrorCode(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
  }

  /**
   * Stores `body` as the file, checked by `checker` (length, quota, content hash) and, when
   * `encryptWith` is given, encrypted at rest. Resolves 'exists' when the name was taken meanwhile (a
   * concurrent upload of the same content; the caller then releases the reservation); rejects with
   * the checker's error, SourceAbortedError or a file system error such as ENOSPC (the temporary file
   * is then gone). On 'created' the checker's reservation has been committed to the quota ledger.
   * `body` is piped, never destroyed, so the caller can still answer on its connection.
   */
  async put(repository: string, ref: FileRef, body: Readable, checker: UploadChecker, encryptWith: AtRestKeys | null): Promise<PutResult> {
    const repositoryDir = this.repositoryDir(repository);
    const directory = fileDirectory(repositoryDir, ref);
    const finalPath = filePath(repositoryDir, ref);
    await mkdir(directory, { recursive: true, mode: DIRECTORY_MODE });
    const temporaryPath = join(directory, temporaryFileName(ref, randomBytes(8).toString('hex')));
    const handle = await open(temporaryPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, FILE_MODE);
    let created: ObjectInfo;
    try {
      const encryptor = encryptWith === null ? null : new StreamEncryptor({ ...encryptWith, objectName: fileRefName(ref) });
      await receive(body, new UploadSink(handle, checker, encryptor));
      await handle.close();
      const linked = await linkNoReplace(temporaryPath, finalPath);
      if (!linked) {
        await rm(temporaryPath, { force: true });
        return { status: 'exists' };
      }
      // The object is visible from here on: it is counted whatever happens next.
      try {
        await unlink(temporaryPath).catch((error: unknown) => {
          if (!isErrorCode(error, 'ENOENT')) throw error;
        });
        await syncDirectory(directory);
      } finally {
        const stats = await lstat(finalPath).catch(() => null);
        const info: ObjectInfo = { size: checker.bytesSeen, fileBytes: stats?.size ?? checker.bytesSeen, mtimeMs: stats?.mtimeMs ?? Date.now() };
        this.#index.add(repository, ref, info);
        await checker.reservation.commit(ledgerKey(repository, ref), info.size);
        created = info;
      }
      return { status: 'created', info: created };
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(temporaryPath, { force: true });
      throw error;
    }
  }

  /**
   * Opens a file for reading; null when it does not exist. Throws KeyUnavailableError when it is
   * encrypted at rest and `keys` is null.
   */
  async open(repository: string, ref: FileRef, keys: AtRestKeys | null): Promise<OpenedObject | null> {
    let handle: FileHandle;
    try {
      handle = await open(filePath(this.repositoryDir(repository), ref), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (isErrorCode(error, 'ENOENT', 'ENOTDIR', 'ELOOP')) return null;
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return null;
      }
      const header = await readHeader(handle, stats.size);
      if (header === null) return plainObject(handle, stats);
      if (keys === null) throw new KeyUnavailableError();
      return encryptedObject(handle, stats, header, { ...keys, objectName: fileRefName(ref) });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /** Plaintext size of a stored file, or null when it does not exist. */
  async size(repository: string, ref: FileRef): Promise<number | null> {
    const path = filePath(this.repositoryDir(repository), ref);
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      if (isErrorCode(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    }
    if (!stats.isFile()) return null;
    const known = this.#index.get(repository, ref);
    if (known !== undefined && known.fileBytes === stats.size && known.mtimeMs === stats.mtimeMs) return known.size;
    return plaintextSizeOf(path, stats);
  }

  /** Objects of a type with their plaintext sizes, read from the disk (the truth, whoever wrote it). */
  async list(repository: string, type: ResticObjectType): Promise<ListedObject[]> {
    const typeDir = join(this.repositoryDir(repository), type);
    const directories = type === 'data' ? (await entriesOf(typeDir)).filter((name) => /^[0-9a-f]{2}$/.test(name)).map((name) => join(typeDir, name)) : [typeDir];
    const names: { directory: string; name: string }[] = [];
    for (const directory of directories) {
      for (const name of await entriesOf(directory)) {
        if (isObjectId(name) && (type !== 'data' || directory.endsWith(name.slice(0, 2)))) names.push({ directory, name });
      }
    }
    const listed = await mapLimited(names, STAT_CONCURRENCY, async ({ name }) => ({ name, size: await this.size(repository, { type, id: name }) }));
    return listed.filter((entry): entry is ListedObject => entry.size !== null);
  }

  /**
   * Deletes a file; false when it did not exist. The delete is announced to the quota ledger before the
   * unlink and subtracted after it; when the ledger cannot be reached the file is deleted all the same
   * (freeing space must not depend on it) and stays counted until the next reconciliation.
   */
  async remove(repository: string, ref: FileRef): Promise<boolean> {
    const size = await this.size(repository, ref);
    if (size === null) {
      this.#index.remove(repository, ref);
      return false;
    }
    let announced: AnnouncedRemoval | null;
    try {
      announced = await this.#quota.removing(ledgerKey(repository, ref), size);
    } catch {
      announced = null;
    }
    try {
      await unlink(filePath(this.repositoryDir(repository), ref));
    } catch (error) {
      await announced?.failed();
      if (isErrorCode(error, 'ENOENT', 'ENOTDIR')) {
        this.#index.remove(repository, ref);
        return false;
      }
      throw error;
    }
    this.#index.remove(repository, ref);
    await announced?.removed();
    return true;
  }

  /**
   * Walks the data directory and returns every repository file with its plaintext size (the gateway's
   * own directory, GATEWAY_STATE_DIR, is skipped). Upload temporaries are never counted; with
   * `removeTemporaryOlderThanMs`, those nobody has written for that long are deleted (abandoned by a
   * crash: on a volume shared by replicas a young one may be another replica's upload in progress).
   */
  async scan(options: { removeTemporaryOlderThanMs: number | null }): Promise<{ objects: ScannedObject[]; strayBytes: number; removedTemporary: number }> {
    const objects: ScannedObject[] = [];
    let strayBytes = 0;
    let removedTemporary = 0;
    const files: { path: string; stats: Stats }[] = [];
    const maxAge = options.removeTemporaryOlderThanMs;
    const walk = async (directory: string, top: boolean): Promise<void> => {
      for (const name of await entriesOf(directory)) {
        if (top && name === GATEWAY_STATE_DIR) continue;
        const path = join(directory, name);
        const stats = await lstat(path).catch(() => null);
        if (stats === null) continue;
        if (stats.isDirectory()) await walk(path, false);
        else if (stats.isFile() && isTemporaryFileName(name)) {
          if (maxAge !== null && Date.now() - stats.mtimeMs >= maxAge) {
            await rm(path, { force: true });
            removedTemporary += 1;
          }
        } else if (stats.isFile()) files.push({ path, stats });
      }
    };
    await mkdir(this.#dataDir, { recursive: true, mode: DIRECTORY_MODE });
    await walk(this.#dataDir, true);
    await mapLimited(files, STAT_CONCURRENCY, async ({ path, stats }) => {
      const located = locate(relative(this.#dataDir, path));
      const size = await plaintextSizeOf(path, stats).catch(() => stats.size);
      if (located === null) strayBytes += size;
      else objects.push({ ...located, info: { size, fileBytes: stats.size, mtimeMs: stats.mtimeMs } });
    });
    return { objects, strayBytes, removedTemporary };
  }
}

async function entriesOf(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch (error) {
    if (isErrorCode(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
}

/** Which repository file a path (relative to the data directory) is, from the layout alone. */
export function locate(relativePath: string): { repository: string; ref: FileRef } | null {
  const segments = relativePath.split(sep);
  const name = segments.at(-1) ?? '';
  const parent = segments.at(-2) ?? '';
  if (name === 'config' && segments.length >= 2) return { repository: segments.slice(0, -1).join('/'), ref: { type: 'config' } };
  if (!isObjectId(name)) return null;
  if (isObjectType(parent) && parent !== 'data' && segments.length >= 3) {
    return { repository: segments.slice(0, -2).join('/'), ref: { type: parent, id: name } };
  }
  if (segments.at(-3) === 'data' && parent === name.slice(0, 2) && segments.length >= 4) {
    return { repository: segments.slice(0, -3).join('/'), ref: { type: 'data', id: name } };
  }
  return null;
}

function plainObject(handle: FileHandle, stats: Stats): OpenedObject {
  return {
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    read: (start, end) => handle.createReadStream({ start, end: Math.max(start, end), autoClose: true, highWaterMark: 256 * 1024 }),
    close: () => handle.close(),
  };
}

function encryptedObject(handle: FileHandle, stats: Stats, header: AtRestHeader, context: AtRestContext): OpenedObject {
  const size = plaintextSize(stats.size, header.chunkBytes);
  if (size === null) throw new AtRestIntegrityError('encrypted object has an impossible size (truncated?)');
  return {
    size,
    mtimeMs: stats.mtimeMs,
    read: (start, end) => {
      const plan = planRange(header, stats.size, start, end);
      const source = handle.createReadStream({ start: plan.fileStart, end: plan.fileEnd, autoClose: true, highWaterMark: 256 * 1024 });
      const decrypt = createDecryptStream(context, header, plan);
      source.on('error', (error) => decrypt.destroy(error));
      // A reader that goes away early (client disconnect) must not leave the file open.
      decrypt.on('close', () => source.destroy());
      return source.pipe(decrypt);
    },
    close: () => handle.close(),
  };
}

/** Bytes gathered before one write to the file: few, large writes. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * The one stream an upload passes through: checks each piece, encrypts it when asked, and writes
 * the result to the temporary file in large batches; on finish it runs the final checks and fsyncs.
 * Doing all of it in one place, rather than a chain of Transform streams, saves a stream hop per
 * network read — the gateway's CPU is what limits backup throughput on a small node.
 */
class UploadSink extends Writable {
  readonly #handle: FileHandle;
  readonly #checker: UploadChecker;
  readonly #encryptor: StreamEncryptor | null;
  #batch: Buffer[] = [];
  #batchBytes = 0;

  constructor(handle: FileHandle, checker: UploadChecker, encryptor: StreamEncryptor | null) {
    super({ highWaterMark: WRITE_BATCH_BYTES });
    this.#handle = handle;
    this.#checker = checker;
    this.#encryptor = encryptor;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let pending: Promise<void> | null;
    try {
      pending = this.#checker.accept(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    // Only a streamed upload whose reservation must grow waits here (for the quota ledger).
    if (pending === null) this.#store(chunk, callback);
    else pending.then(() => this.#store(chunk, callback), callback);
  }

  #store(chunk: Buffer, callback: (error?: Error | null) => void): void {
    try {
      this.#queue(this.#encryptor === null ? [chunk] : this.#encryptor.update(chunk));
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (this.#batchBytes < WRITE_BATCH_BYTES) callback();
    else this.#flush().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.#checker.finish();
      if (this.#encryptor !== null) this.#queue(this.#encryptor.final());
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#flush()
      .then(() => this.#handle.sync())
      .then(() => callback(), callback);
  }

  #queue(parts: Buffer[]): void {
    for (const part of parts) {
      this.#batch.push(part);
      this.#batchBytes += part.length;
    }
  }

  async #flush(): Promise<void> {
    let parts = this.#batch;
    let remaining = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    while (remaining > 0) {
      const { bytesWritten } = await this.#handle.writev(parts);
      remaining -= bytesWritten;
      if (remaining > 0) parts = [Buffer.concat(parts).subarray(bytesWritten)];
    }
  }
}

/** Pipes `body` into `sink` and waits until the sink has finished (or failed, or the body aborted). */
function receive(body: Readable, sink: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    sink.once('finish', resolve);
    sink.once('error', reject);
    body.once('error', (error) => sink.destroy(error));
    body.once('close', () => {
      if (!body.readableEnded) sink.destroy(new SourceAbortedError());
    });
    body.pipe(sink);
  });
}
