/**
 * `tenant-backup open-export`: turns a sealed (customer custody) export back into plain restic
 * repositories, offline, with the customer's key password alone. The password unwraps the data key
 * from customer-key.json (scrypt-derived, verifier checked first, src/crypto/customer-custody.ts);
 * each object is then decrypted from the at-rest format as it streams out of the tar. The bag is
 * checked on the way like verify-export does (manifests, Payload-Oxum, and the `.sha256` beside the
 * archive when there is one), so a damaged archive is reported rather than half-opened in silence.
 * An export under provider custody is simply unpacked (its objects are plain already).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { keyIdOf, openWithPassword, WrongPasswordError } from '../crypto/index.ts';
import { AT_REST_HEADER_BYTES, createDecryptStream, hasAtRestMagic, parseHeader, planRange, plaintextSize } from '../gateway/at-rest.ts';
import { TAG_FILES, type CustomerKeyFile } from './bag.ts';
import { bagNameOfArchive, checksumFileName, parsePayloadPath } from './names.ts';
import { checkBag, ExportVerificationError, newObserved, parseChecksumFile, readBagEntries } from './verify.ts';

export interface OpenExportResult {
  out: string;
  repositories: string[];
  files: number;
  bytes: number;
}

async function assertEmptyDirectory(path: string): Promise<void> {
  const entries = await readdir(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) throw new Error(`--out ${path} must be a new or empty directory`);
}

/** Splits off the first `count` bytes of a chunk stream; the rest follows in `rest`. */
async function peek(chunks: AsyncIterable<Buffer>, count: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let length = 0;
  while (length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    parts.push(next.value);
    length += next.value.length;
  }
  const all = Buffer.concat(parts);
  const rest = async function* (): AsyncGenerator<Buffer> {
    if (all.length > count) yield all.subarray(count);
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
  };
  return { head: all.subarray(0, count), rest: rest() };
}

export async function openExport(archivePath: string, password: string, outDir: string): Promise<OpenExportResult> {
  const path = resolve(archivePath);
  const out = resolve(outDir);
  const archive = basename(path);
  const bag = bagNameOfArchive(archive);
  if (bag === null) throw new Error(`${archive} is not named <tenant>_<space>_<export id>.tar`);
  await assertEmptyDirectory(out);
  await mkdir(out, { recursive: true, mode: 0o700 });

  let key: { dataKey: Buffer; spaceUid: string } | null = null;
  const repositories = new Set<string>();
  const observed = newObserved();
  const archiveHash = createHash('sha256');
  const tap = new PassThrough({ highWaterMark: 1024 * 1024 });
  tap.on('data', (chunk: Buffer) => archiveHash.update(chunk));
  const extract = tar.extract();

  const hooks = {
    async tag(name: string, text: string): Promise<void> {
      if (name !== TAG_FILES.customerKey) return;
      const file = JSON.parse(text) as CustomerKeyFile;
      let dataKey: Buffer;
      try {
        dataKey = await openWithPassword(password, file.record, file.spaceUid);
      } catch (error) {
        if (error instanceof WrongPasswordError) throw new Error('the password does not open this export (wrong customer key password)', { cause: error });
        throw error;
      }
      if (keyIdOf(dataKey) !== file.keyId) throw new Error('customer-key.json: the unwrapped key does not match its key id');
      key = { dataKey, spaceUid: file.spaceUid };
    },
    async directory(name: string): Promise<void> {
      await mkdir(join(out, name), { recursive: true, mode: 0o700 });
    },
    async payload(name: string, size: number, chunks: AsyncIterable<Buffer>): Promise<void> {
      const parsed = parsePayloadPath(name);
      if (parsed === null) throw new Error(`data/${name} is not a file of a restic repository`);
      repositories.add(parsed.repository);
      const target = join(out, name);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const { head, rest } = await peek(chunks, AT_REST_HEADER_BYTES);
      const sink = createWriteStream(target, { mode: 0o600, flags: 'wx' });
      if (head.length < AT_REST_HEADER_BYTES || !hasAtRestMagic(head)) {
        await pipeline(Readable.from((async function* () { if (head.length > 0) yield head; yield* rest; })()), sink);
        return;
      }
      if (key === null) throw new Error(`data/${name} is encrypted at rest but the archive has no customer-key.json before it`);
      const header = parseHeader(head);
      const plain = plaintextSize(size, header.chunkBytes);
      if (plain === null) throw new Error(`data/${name} is encrypted with an impossible size (truncated?)`);
      const decrypt = createDecryptStream({ ...(key as { dataKey: Buffer; spaceUid: string }), objectName: parsed.objectName }, header, planRange(header, size, 0, plain - 1));
      await pipeline(Readable.from(rest), decrypt, sink);
    },
  };

  try {
    await Promise.all([pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), tap, extract), readBagEntries(extract, bag, observed, hooks)]);
  } finally {
    (key as { dataKey: Buffer } | null)?.dataKey.fill(0);
  }
  const checksum = await readFile(checksumFileName(path), 'utf8').catch(() => null);
  if (checksum !== null) {
    const expected = parseChecksumFile(checksum, archive);
    const actual = archiveHash.digest('hex');
    if ('problem' in expected) observed.problems.push(expected.problem);
    else if (expected.sha256 !== actual) observed.problems.push(`archive sha256 ${actual} differs from ${checksumFileName(archive)}`);
  }
  const { files, bytes } = checkBag(observed);
  if (observed.problems.length > 0) throw new ExportVerificationError(`${path} is damaged (the files written to ${out} must not be trusted): ${observed.problems.slice(0, 20).join('; ')}`);
  return { out, repositories: [...repositories].sort(), files, bytes };
}
