/**
 * Writes the bag into a tar stream in one pass: the tag files known up front, then every payload file
 * read (and, under provider custody, decrypted) straight from the volume, hashed while it passes, then
 * the manifests. Memory stays flat: two read buffers and the output's fixed slots, never a whole
 * file. The archive and every payload file are hashed on two hash workers from the bytes written
 * (archive-output.ts), so the digests are known when the last byte is.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AT_REST_HEADER_BYTES, AT_REST_TAG_BYTES, createChunkOpener } from '../gateway/at-rest.ts';
import { ArchiveOutput } from './archive-output.ts';
import { bagInfo, BAGIT_TXT, customerKeyFile, manifestJson, manifestText, readme, TAG_FILES, type BagIdentity, type Custody, type EndpointSummary, type PayloadDigest } from './bag.ts';
import { entryHeader, endOfArchive, padding, smallEntry } from './tar.ts';
import type { ScannedFile, VolumeScan } from './scan.ts';
import type { ExportEndpoint, ExportKey } from './types.ts';

/** Bytes of sealed chunks read per system call; two such buffers, one being read while the other is decrypted. */
const SEALED_READ_BYTES = 4 * 1024 * 1024;

export interface WrittenArchive {
  sha256: string;
  size: number;
  files: number;
  bytes: number;
  payloadDigest: string;
}

/** Read buffers for sealed chunks, reused from file to file. */
class SealedReadBuffers {
  #buffers: [Buffer, Buffer] | null = null;

  get(bytes: number): [Buffer, Buffer] {
    if (this.#buffers === null || this.#buffers[0].length < bytes) this.#buffers = [Buffer.allocUnsafe(bytes), Buffer.allocUnsafe(bytes)];
    return this.#buffers;
  }
}

function changed(file: ScannedFile, read: number): Error {
  return new Error(`${file.path} changed while it was exported: ${read} bytes read, ${file.size} expected`);
}

/** A plain file's bytes go from the page cache straight into the output's slot. */
async function copyPlain(out: ArchiveOutput, handle: FileHandle, file: ScannedFile, signal?: AbortSignal): Promise<void> {
  for (let position = 0; position < file.size; ) {
    signal?.throwIfAborted();
    const count = await out.fill(async (into) => (await handle.read(into, 0, Math.min(into.length, file.size - position), position)).bytesRead);
    if (count === 0) throw changed(file, position);
    position += count;
  }
}

/**
 * Decrypts a file encrypted at rest, many sealed chunks per read; the next read runs while the
 * chunks of the last one are opened. Every chunk is authenticated before any of its bytes are passed on.
 */
async function copyDecrypted(out: ArchiveOutput, handle: FileHandle, file: ScannedFile, key: ExportKey, spaceUid: string, buffers: SealedReadBuffers, signal?: AbortSignal): Promise<void> {
  const header = file.decrypt;
  if (header === null) throw new Error(`${file.path}: not encrypted at rest`);
  if (key.mode !== 'provider') throw new Error(`${file.path}: decrypting needs the provider's data key`);
  const openChunk = createChunkOpener({ dataKey: key.dataKey, spaceUid, objectName: file.objectName }, header);
  const sealedChunk = header.chunkBytes + AT_REST_TAG_BYTES;
  const finalChunk = Math.max(1, Math.ceil(file.size / header.chunkBytes)) - 1;
  const body = file.storedSize - AT_REST_HEADER_BYTES;
  const perRead = Math.max(1, Math.floor(SEALED_READ_BYTES / sealedChunk)) * sealedChunk;
  const [first, second] = buffers.get(perRead);
  const read = (into: Buffer, offset: number): Promise<{ bytesRead: number; length: number }> => {
    const length = Math.min(perRead, body - offset);
    return handle.read(into, 0, length, AT_REST_HEADER_BYTES + offset).then(({ bytesRead }) => ({ bytesRead, length }));
  };
  let current = first;
  let spare = second;
  let offset = 0;
  let pending: Promise<{ bytesRead: number; length: number }> | null = read(current, 0);
  let index = 0;
  let written = 0;
  try {
    while (pending !== null) {
      signal?.throwIfAborted();
      const { bytesRead, length } = await pending;
      pending = null;
      if (bytesRead !== length) throw changed(file, written);
      const block = current;
      offset += length;
      if (offset < body) {
        pending = read(spare, offset);
        [current, spare] = [spare, current];
      }
      for (let at = 0; at < length; at += sealedChunk, index += 1) {
        const plaintext = openChunk(index, index === finalChunk, block.subarray(at, Math.min(length, at + sealedChunk)));
        written += plaintext.length;
        if (written > file.size) throw new Error(`${file.path} grew while it was exported (was ${file.size} bytes)`);
        await out.write(plaintext);
      }
    }
  } finally {
    // A read still under way writes into a buffer the next file reuses: let it land first.
    await pending?.catch(() => undefined);
  }
  if (written !== file.size || index !== finalChunk + 1) throw changed(file, written);
}

async function writePayloadFile(out: ArchiveOutput, bag: string, file: ScannedFile, key: ExportKey, spaceUid: string, mtime: number, buffers: SealedReadBuffers, signal?: AbortSignal): Promise<{ digest: Promise<PayloadDigest> }> {
  await out.write(entryHeader({ path: `${bag}/data/${file.path}`, type: 'file', size: file.size, mtime }));
  out.beginFile();
  if (file.decrypt !== null || file.size > 0) {
    const handle = await open(file.absolute, 'r');
    try {
      if (file.decrypt === null) await copyPlain(out, handle, file, signal);
      else await copyDecrypted(out, handle, file, key, spaceUid, buffers, signal);
    } finally {
      await handle.close();
    }
  }
  const digest = out.endFile();
  await out.write(padding(file.size));
  // Wrapped: an async function would otherwise wait for the digest, which the worker computes later.
  return { digest: digest.then((sha256) => ({ path: `data/${file.path}`, sha256, size: file.size })) };
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
  const out = new ArchiveOutput(destination);
  const buffers = new SealedReadBuffers();
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
    const pending: Array<Promise<PayloadDigest>> = [];
    for (const entry of entries) {
      input.signal?.throwIfAborted();
      if (entry.file === null) await out.write(entryHeader({ path: `${bag}/data/${entry.path}`, type: 'directory', size: 0, mtime }));
      else {
        const { digest } = await writePayloadFile(out, bag, entry.file, key, identity.spaceUid, mtime, buffers, input.signal);
        digest.catch(() => undefined); // awaited below; an archive failing first must not leave it unhandled
        pending.push(digest);
      }
    }
    // The worker hashes a few MiB behind the reads; the manifest waits for the last file's digest.
    await out.flush();
    const digests = await Promise.all(pending);

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
    const size = out.size;
    return { sha256: await out.finish(), size, files: digests.length, bytes: scan.bytes, payloadDigest };
  } finally {
    await out.close();
  }
}

/** The `<archive>.sha256` file: what `sha256sum -c` reads, beside the archive. */
export function checksumLine(sha256Hex: string, archive: string): string {
  return `${sha256Hex}  ${archive}\n`;
}
