/**
 * Where an archive goes: a directory (a mounted PVC), an S3-compatible store, or a receiver over
 * HTTPS (http-target.ts) that writes into a directory the exporter cannot mount. Either way a
 * partial archive never looks finished: the directory target writes `.<archive>.partial` and renames
 * it after an fsync; the S3 target's multipart upload only makes the object appear when it completes;
 * the receiver writes with the directory target. The `.sha256` file comes last, so an archive is
 * finished exactly when its `.sha256` exists.
 */
import { constants, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { checksumFileName } from './names.ts';
import type { ExportTarget, S3Connection, VerifyResult } from './types.ts';
import { verifyExport } from './verify.ts';

export interface ArchiveWrite {
  stream: Writable;
  /** Makes the archive visible under its name, then writes its `.sha256` with `checksumText`. */
  complete(checksumText: string): Promise<void>;
  abort(): Promise<void>;
}

export interface OpenedTarget {
  /** Where an archive of this name is (or will be): an absolute path, `s3://bucket/key` or the receiver's URL. */
  location(archive: string): string;
  /** True when the archive and its `.sha256` are both there. */
  finished(archive: string): Promise<boolean>;
  begin(archive: string): Promise<ArchiveWrite>;
  /**
   * Re-reads the finished archive from the target and checks every digest (verifyExport); throws
   * ExportVerificationError when it does not verify.
   */
  verify(archive: string, signal?: AbortSignal): Promise<VerifyResult>;
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync().catch(() => undefined); // some filesystems cannot fsync a directory
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

/** Writes a small file durably under its final name (temporary file, fsync, rename). */
async function writeFileAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.partial`;
  await writeFile(temporary, text, { mode: 0o644, flush: true });
  await rename(temporary, path);
}

/** A directory target; the receiver (receiver.ts) writes with it too. */
export function directoryTarget(path: string): OpenedTarget {
  const root = resolve(path);
  return {
    location: (archive) => join(root, archive),
    verify: (archive, signal) => verifyExport(join(root, archive), signal === undefined ? {} : { signal }),
    async finished(archive) {
      return (await exists(join(root, archive))) && (await exists(join(root, checksumFileName(archive))));
    },
    async begin(archive) {
      await mkdir(root, { recursive: true });
      const final = join(root, archive);
      const partial = join(root, `.${archive}.partial`);
      // A finished archive being replaced (it failed verification) stops looking finished first.
      await rm(join(root, checksumFileName(archive)), { force: true });
      const stream = createWriteStream(partial, { mode: 0o644, flush: true, highWaterMark: 1024 * 1024 });
      return {
        stream,
        async complete(checksumText) {
          stream.end();
          await finished(stream);
          await rename(partial, final);
          await writeFileAtomically(join(root, checksumFileName(archive)), checksumText);
          await syncDirectory(root);
        },
        async abort() {
          stream.destroy();
          await rm(partial, { force: true });
        },
      };
    },
  };
}

function s3Key(prefix: string, archive: string): string {
  const trimmed = prefix.replace(/^\/+/, '');
  if (trimmed === '') return archive;
  return trimmed.endsWith('/') ? `${trimmed}${archive}` : `${trimmed}/${archive}`;
}

async function s3Target(target: Extract<ExportTarget, { kind: 's3' }>): Promise<OpenedTarget> {
  if (target.bucket === '') throw new Error('S3 target: bucket must not be empty');
  // Loaded only for an S3 target: the AWS SDK is most of the export's resident memory otherwise.
  const { objectExists, putSmallObject, s3Client, startUpload } = await import('./s3.ts');
  const client = s3Client(target);
  const connection: S3Connection = {
    region: target.region,
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
    ...(target.forcePathStyle === undefined ? {} : { forcePathStyle: target.forcePathStyle }),
    ...(target.credentials === undefined ? {} : { credentials: target.credentials }),
    ...(target.caFile === undefined ? {} : { caFile: target.caFile }),
  };
  return {
    location: (archive) => `s3://${target.bucket}/${s3Key(target.prefix, archive)}`,
    verify: (archive, signal) => verifyExport(`s3://${target.bucket}/${s3Key(target.prefix, archive)}`, { s3: connection, ...(signal === undefined ? {} : { signal }) }),
    async finished(archive) {
      const key = s3Key(target.prefix, archive);
      return (await objectExists(client, target.bucket, key)) && (await objectExists(client, target.bucket, checksumFileName(key)));
    },
    async begin(archive) {
      const key = s3Key(target.prefix, archive);
      const upload = startUpload(client, target.bucket, key, target.partSizeBytes);
      return {
        stream: upload.stream,
        async complete(checksumText) {
          await upload.done();
          await putSmallObject(client, target.bucket, checksumFileName(key), checksumText, 'text/plain; charset=utf-8');
        },
        abort: () => upload.abort(),
      };
    },
  };
}

export async function openTarget(target: ExportTarget): Promise<OpenedTarget> {
  if (target.kind === 'directory') return directoryTarget(target.path);
  if (target.kind === 'http') return (await import('./http-target.ts')).httpTarget(target);
  return s3Target(target);
}
