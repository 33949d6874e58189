/**
 * Writes the bag into a tar stream in one pass: the tag files known up front, then every payload file
 * read (and, under provider custody, decrypted) straight from the volume, hashed while it passes, then
 * the manifests. Memory stays flat: one read buffer per file, never a whole file. The archive is
 * hashed as it is written, so its digest is known when the last byte is.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AT_REST_HEADER_BYTES, AT_REST_TAG_BYTES, createDecryptStream, planRange } from '../gateway/at-rest.ts';
import { bagInfo, BAGIT_TXT, customerKeyFile, manifestJson, manifestText, readme, TAG_FILES, type BagIdentity, type Custody, type EndpointSummary, type PayloadDigest } from './bag.ts';
import { WorkerHash } from './hash-worker.ts';
import { entryHeader, endOfArchive, padding, smallEntry } from './tar.ts';
import type { ScannedFile, VolumeScan } from './scan.ts';
import type { ExportEndpoint, ExportKey } from './types.ts';

const READ_BUFFER = 1024 * 1024;

export interface WrittenArchive {
  sha256: string;
  size: number;
  files: number;
  bytes: number;
  payloadDigest: string;
}

/** Hashes and counts what it writes, and waits for the destination when it asks to (backpressure). */
class HashingWriter {
  readonly #hash = new WorkerHash();
  readonly #out: Writable;
  #size = 0;

  constructor(out: Writable) {
    this.#out = out;
  }

  get size(): number {
    return this.#size;
  }

  async write(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    await this.#hash.update(bytes);
    this.#size += bytes.length;
    if (!this.#out.write(bytes)) await once(this.#out, 'drain');
  }

  digest(): Promise<string> {
    return this.#hash.digest();
  }

  close(): Promise<void> {
    return this.#hash.close();
  }
}

function payloadSource(file: ScannedFile, key: ExportKey, spaceUid: string): [Readable, Transform?] {
  if (file.decrypt === null) return [createReadStream(file.absolute, { highWaterMark: READ_BUFFER, end: Math.max(0, file.storedSize - 1), start: 0 })];
  if (key.mode !== 'provider') throw new Error(`${file.path}: decrypting needs the provider's data key`);
  const plan = planRange(file.decrypt, file.storedSize, 0, file.size - 1);
  return [
    // Reads of exactly one sealed chunk: the decrypting stream then never joins partial chunks.
    createReadStream(file.absolute, { highWaterMark: file.decrypt.chunkBytes + AT_REST_TAG_BYTES, start: AT_REST_HEADER_BYTES, end: file.storedSize - 1 }),
    createDecryptStream({ dataKey: key.dataKey, spaceUid, objectName: file.objectName }, file.decrypt, plan),
  ];
}

async function writePayloadFile(out: HashingWriter, bag: string, file: ScannedFile, key: ExportKey, spaceUid: string, mtime: number, signal?: AbortSignal): Promise<PayloadDigest> {
  await out.write(entryHeader({ path: `${bag}/data/${file.path}`, type: 'file', size: file.size, mtime }));
  const hash = createHash('sha256');
  let written = 0;
  // A zero-byte plain file: createReadStream with end 0 would read one byte, so skip the read.
  if (!(file.decrypt === null && file.storedSize === 0)) {
    const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of source) {
        written += chunk.length;
        if (written > file.size) throw new Error(`${file.path} grew while it was exported (was ${file.size} bytes)`);
        hash.update(chunk);
        await out.write(chunk);
      }
    };
    const [read, decrypt] = payloadSource(file, key, spaceUid);
    if (decrypt === undefined) await pipeline(read, consume, { signal });
    else await pipeline(read, decrypt, consume, { signal });
  }
  if (written !== file.size) throw new Error(`${file.path} changed while it was exported: ${written} bytes read, ${file.size} expected`);
  await out.write(padding(file.size));
  return { path: `data/${file.path}`, sha256: hash.digest('hex'), size: file.size };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function endpointSummaries(scan: VolumeScan, endpoints: readonly ExportEndpoint[]): EndpointSummary[] {
  return scan.repositories.map((repository) => {
    const files = scan.files.filter((file) => file.repository === repository);
    return {
      name: endpoints.find((endpoint) => endpoint.repository === repository)?.name ?? null,
      repository,
      files: files.length,
      bytes: files.reduce((sum, file) => sum + file.size, 0),
    };
  });
}

export interface ArchiveInput {
  identity: BagIdentity;
  custody: Custody;
  key: ExportKey;
  endpoints: readonly ExportEndpoint[];
  scan: VolumeScan;
  /** The archive's file name; its bag directory is the name without `.tar`. */
  archive: string;
  signal?: AbortSignal;
}

/** Writes the whole archive to `destination` (does not end it). */
export async function writeArchive(input: ArchiveInput, destination: Writable): Promise<WrittenArchive> {
  const { identity, scan, key } = input;
  const bag = input.archive.replace(/\.tar$/, '');
  const mtime = Math.floor(identity.createdAt.getTime() / 1000);
  const out = new HashingWriter(destination);
  try {
    const tags: Array<{ path: string; sha256: string }> = [];
    const tag = async (path: string, text: string): Promise<void> => {
      tags.push({ path, sha256: sha256(text) });
      await out.write(smallEntry(`${bag}/${path}`, Buffer.from(text, 'utf8'), mtime));
    };

    await out.write(entryHeader({ path: bag, type: 'directory', size: 0, mtime }));
    await tag(TAG_FILES.bagit, BAGIT_TXT);
    await tag(TAG_FILES.bagInfo, bagInfo(identity, { bytes: scan.bytes, files: scan.files.length }));
    await tag(TAG_FILES.readme, readme(identity, input.custody, scan.repositories, input.archive));
    if (key.mode === 'customer') await tag(TAG_FILES.customerKey, customerKeyFile(identity.spaceUid, key.keyId, key.record));

    await out.write(entryHeader({ path: `${bag}/data`, type: 'directory', size: 0, mtime }));
    // Directories and files in one sorted walk, so a directory always precedes what it holds.
    const entries = [
      ...scan.directories.map((path) => ({ path, file: null as ScannedFile | null })),
      ...scan.files.map((file) => ({ path: file.path, file })),
    ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const digests: PayloadDigest[] = [];
    for (const entry of entries) {
      input.signal?.throwIfAborted();
      if (entry.file === null) await out.write(entryHeader({ path: `${bag}/data/${entry.path}`, type: 'directory', size: 0, mtime }));
      else digests.push(await writePayloadFile(out, bag, entry.file, key, identity.spaceUid, mtime, input.signal));
    }

    const manifest = manifestText(digests);
    await tag(TAG_FILES.manifest, manifest);
    const payloadDigest = sha256(manifest);
    await tag(
      TAG_FILES.manifestJson,
      manifestJson({
        tenant: identity.tenant,
        space: identity.space,
        spaceUid: identity.spaceUid,
        exportId: identity.exportId,
        organization: identity.organization,
        created: identity.createdAt.toISOString(),
        custody: input.custody,
        endpoints: endpointSummaries(scan, input.endpoints),
        files: digests.length,
        bytes: scan.bytes,
        payloadDigest,
      }),
    );
    const tagManifest = manifestText(tags);
    await out.write(smallEntry(`${bag}/${TAG_FILES.tagManifest}`, Buffer.from(tagManifest, 'utf8'), mtime));
    await out.write(endOfArchive());
  return { sha256: await out.digest(), size: out.size, files: digests.length, bytes: scan.bytes, payloadDigest };
  } finally {
    await out.close();
  }
}

/** The `<archive>.sha256` file: what `sha256sum -c` reads, beside the archive. */
export function checksumLine(sha256Hex: string, archive: string): string {
  return `${sha256Hex}  ${archive}\n`;
}
