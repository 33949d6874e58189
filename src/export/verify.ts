/**
 * Re-reads an archive from where it was written and checks it, streaming: the archive's sha256
 * against `<archive>.sha256`; every payload file against manifest-sha256.txt (none missing, none
 * extra); the tag files against tagmanifest-sha256.txt; Payload-Oxum and manifest.json against what
 * was counted. Every problem is collected, so the error names all that failed, not just the first.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { BAGIT_TXT, MANIFEST_FORMAT, parseBagInfo, parseManifest, payloadOxum, TAG_FILES, type ManifestJson } from './bag.ts';
import { bagNameOfArchive, checksumFileName, isSafeBagPath } from './names.ts';
import { parseS3Location } from './s3-location.ts';
import type { VerifyOptions, VerifyResult } from './types.ts';

/** An archive failed verification; the message names the file or digest that did not match. */
export class ExportVerificationError extends Error {
  override readonly name = 'ExportVerificationError';
}

/** Tag files are read whole; this bounds them (a manifest line is ~150 bytes: millions of files). */
const MAX_TAG_FILE_BYTES = 256 * 1024 * 1024;
const KNOWN_TAG_FILES = new Set<string>(Object.values(TAG_FILES));

export interface ArchiveSource {
  location: string;
  archive: string;
  open(signal?: AbortSignal): Promise<Readable>;
  checksumText(): Promise<string>;
}

export async function archiveSource(location: string, options: VerifyOptions = {}): Promise<ArchiveSource> {
  const s3 = parseS3Location(location);
  if (s3 !== null) {
    const connection = options.s3;
    if (connection === undefined) throw new ExportVerificationError(`${location}: reading from S3 needs the store's connection (endpoint, region, credentials)`);
    // Loaded only for S3: the AWS SDK is most of the export's resident memory otherwise.
    const { getObjectStream, getSmallObject, s3Client } = await import('./s3.ts');
    const client = s3Client(connection);
    return {
      location,
      archive: basename(s3.key),
      open: (signal) => getObjectStream(client, s3.bucket, s3.key, signal),
      checksumText: () => getSmallObject(client, s3.bucket, checksumFileName(s3.key), 64 * 1024),
    };
  }
  const path = resolve(location);
  return {
    location: path,
    archive: basename(path),
    open: async () => {
      await stat(path);
      return createReadStream(path, { highWaterMark: 1024 * 1024 });
    },
    checksumText: () => readFile(checksumFileName(path), 'utf8'),
  };
}

/** What reading a bag's tar saw: payload and tag digests, and the problems met on the way. */
export interface Observed {
  payload: Map<string, { sha256: string; size: number }>;
  tags: Map<string, { sha256: string; text: string }>;
  problems: string[];
}

export function newObserved(): Observed {
  return { payload: new Map(), tags: new Map(), problems: [] };
}

/** What a reader of the bag does besides checking it (open-export writes the files out). */
export interface BagReaderHooks {
  /** Called with each tag file as soon as it has been read. */
  tag?(path: string, text: string): Promise<void>;
  /** Called with each directory under data/ (path without "data/"). */
  directory?(path: string): Promise<void>;
  /** Consumes a payload file (path without "data/"); `chunks` hashes what passes through it. */
  payload?(path: string, size: number, chunks: AsyncIterable<Buffer>): Promise<void>;
}

async function* counted(entry: AsyncIterable<Buffer>, tally: { hash: ReturnType<typeof createHash>; bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of entry) {
    tally.hash.update(chunk);
    tally.bytes += chunk.length;
    yield chunk;
  }
}

/** Reads every entry of the bag's tar, recording digests in `observed`. */
export async function readBagEntries(extract: tar.Extract, bag: string, observed: Observed, hooks: BagReaderHooks = {}): Promise<void> {
  for await (const entry of extract) {
    const { name, type, size } = entry.header;
    const path = name.replace(/\/$/, '');
    if (path !== bag && !path.startsWith(`${bag}/`)) {
      observed.problems.push(`${name}: outside the bag directory ${bag}/`);
      entry.resume();
      continue;
    }
    const inner = path.slice(bag.length + 1);
    if (type === 'directory') {
      entry.resume();
      if (inner.startsWith('data/') && isSafeBagPath(inner)) await hooks.directory?.(inner.slice('data/'.length));
      continue;
    }
    if (type !== 'file') {
      observed.problems.push(`${name}: a ${type ?? 'unknown'} entry; the bag holds only files and directories`);
      entry.resume();
      continue;
    }
    const hash = createHash('sha256');
    if (inner.startsWith('data/')) {
      if (!isSafeBagPath(inner)) observed.problems.push(`${name}: a path the bag cannot hold`);
      if (observed.payload.has(inner)) observed.problems.push(`${inner}: appears twice in the archive`);
      const tally = { hash, bytes: 0 };
      const chunks = counted(entry as AsyncIterable<Buffer>, tally);
      if (hooks.payload !== undefined && isSafeBagPath(inner)) await hooks.payload(inner.slice('data/'.length), size ?? 0, chunks);
      for await (const chunk of chunks) void chunk; // whatever the hook left unread
      const bytes = tally.bytes;
      observed.payload.set(inner, { sha256: hash.digest('hex'), size: bytes });
      if (size !== undefined && size !== bytes) observed.problems.push(`${inner}: ${bytes} bytes read, ${size} in its header`);
      continue;
    }
    if (!KNOWN_TAG_FILES.has(inner)) observed.problems.push(`${inner}: an unexpected file in the bag`);
    if ((size ?? 0) > MAX_TAG_FILE_BYTES) throw new ExportVerificationError(`${inner}: ${size} bytes, larger than a tag file may be`);
    const parts: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) parts.push(chunk);
    const content = Buffer.concat(parts);
    if (observed.tags.has(inner)) observed.problems.push(`${inner}: appears twice in the archive`);
    observed.tags.set(inner, { sha256: createHash('sha256').update(content).digest('hex'), text: content.toString('utf8') });
    await hooks.tag?.(inner, content.toString('utf8'));
  }
}

function tryParse<T>(problems: string[], what: string, parse: () => T): T | null {
  try {
    return parse();
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message}`);
    return null;
  }
}

/** Compares what was read against the bag's own claims; pure, so each rule is tested without a tar. */
export function checkBag(observed: Observed): { files: number; bytes: number } {
  const { payload, tags, problems } = observed;
  for (const required of [TAG_FILES.bagit, TAG_FILES.bagInfo, TAG_FILES.manifest, TAG_FILES.tagManifest, TAG_FILES.manifestJson]) {
    if (!tags.has(required)) problems.push(`${required}: missing`);
  }
  const bagit = tags.get(TAG_FILES.bagit);
  if (bagit !== undefined && bagit.text !== BAGIT_TXT) problems.push(`${TAG_FILES.bagit}: not "BagIt-Version: 1.0" with UTF-8 tag files`);

  const manifestText = tags.get(TAG_FILES.manifest)?.text;
  const manifest = manifestText === undefined ? null : tryParse(problems, TAG_FILES.manifest, () => parseManifest(manifestText, TAG_FILES.manifest));
  if (manifest !== null) {
    for (const [path, digest] of manifest) {
      const seen = payload.get(path);
      if (seen === undefined) problems.push(`${path}: listed in ${TAG_FILES.manifest} but missing from the archive`);
      else if (seen.sha256 !== digest) problems.push(`${path}: sha256 ${seen.sha256} differs from ${TAG_FILES.manifest} (${digest})`);
    }
    for (const path of payload.keys()) if (!manifest.has(path)) problems.push(`${path}: in the archive but not listed in ${TAG_FILES.manifest}`);
  }

  const tagManifestText = tags.get(TAG_FILES.tagManifest)?.text;
  const tagManifest = tagManifestText === undefined ? null : tryParse(problems, TAG_FILES.tagManifest, () => parseManifest(tagManifestText, TAG_FILES.tagManifest));
  if (tagManifest !== null) {
    for (const [path, digest] of tagManifest) {
      const seen = tags.get(path);
      if (seen === undefined) problems.push(`${path}: listed in ${TAG_FILES.tagManifest} but missing from the archive`);
      else if (seen.sha256 !== digest) problems.push(`${path}: sha256 differs from ${TAG_FILES.tagManifest}`);
    }
    for (const path of tags.keys()) {
      if (path !== TAG_FILES.tagManifest && !tagManifest.has(path)) problems.push(`${path}: not listed in ${TAG_FILES.tagManifest}`);
    }
  }

  const bytes = [...payload.values()].reduce((sum, file) => sum + file.size, 0);
  const files = payload.size;
  const bagInfoText = tags.get(TAG_FILES.bagInfo)?.text;
  const bagInfo = bagInfoText === undefined ? null : tryParse(problems, TAG_FILES.bagInfo, () => parseBagInfo(bagInfoText));
  if (bagInfo !== null) {
    const oxum = bagInfo.get('Payload-Oxum');
    if (oxum?.length !== 1) problems.push(`${TAG_FILES.bagInfo}: must have exactly one Payload-Oxum`);
    else if (oxum[0] !== payloadOxum(bytes, files)) problems.push(`${TAG_FILES.bagInfo}: Payload-Oxum ${oxum[0]} but the payload is ${payloadOxum(bytes, files)} (octets.files)`);
  }

  const jsonText = tags.get(TAG_FILES.manifestJson)?.text;
  const json = jsonText === undefined ? null : tryParse(problems, TAG_FILES.manifestJson, () => JSON.parse(jsonText) as ManifestJson);
  if (json !== null) {
    if (json.format !== MANIFEST_FORMAT) problems.push(`${TAG_FILES.manifestJson}: format is not ${MANIFEST_FORMAT}`);
    if (json.files !== files || json.bytes !== bytes) problems.push(`${TAG_FILES.manifestJson}: says ${json.files} files, ${json.bytes} bytes; the payload has ${files} files, ${bytes} bytes`);
    const manifestDigest = tags.get(TAG_FILES.manifest)?.sha256;
    if (manifestDigest !== undefined && json.payloadDigest !== manifestDigest) problems.push(`${TAG_FILES.manifestJson}: payloadDigest is not the sha256 of ${TAG_FILES.manifest}`);
  }
  return { files, bytes };
}

/** Parses `<archive>.sha256` ("<hex>  <name>"); returns the digest or a problem. */
export function parseChecksumFile(text: string, archive: string): { sha256: string } | { problem: string } {
  const match = /^([0-9a-f]{64}) [ *](.+)\n?$/.exec(text);
  if (match === null) return { problem: `${checksumFileName(archive)}: not one "<sha256>  <name>" line` };
  if (match[2] !== archive) return { problem: `${checksumFileName(archive)}: names ${match[2] ?? ''}, not ${archive}` };
  return { sha256: match[1] as string };
}

/** Re-reads an archive (a file path or `s3://bucket/key`) and checks every digest of it. */
export async function verifyExport(location: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const source = await archiveSource(location, options);
  const fail = (problems: string[]): never => {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
    throw new ExportVerificationError(`${source.location} failed verification: ${shown.join('; ')}${more}`);
  };
  const bag = bagNameOfArchive(source.archive);
  if (bag === null) fail([`${source.archive} is not named <tenant>_<space>_<export id>.tar`]);
  let checksum: string;
  try {
    checksum = await source.checksumText();
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT' || /does not exist/.test((error as Error).message);
    return fail([missing ? `${checksumFileName(source.archive)} is missing: the archive is not finished` : `${checksumFileName(source.archive)} cannot be read: ${(error as Error).message}`]);
  }
  const expected = parseChecksumFile(checksum, source.archive);

  const observed = newObserved();
  const archiveHash = createHash('sha256');
  let size = 0;
  const tap = new PassThrough({ highWaterMark: 1024 * 1024 });
  tap.on('data', (chunk: Buffer) => {
    archiveHash.update(chunk);
    size += chunk.length;
  });
  const extract = tar.extract();
  try {
    const input = await source.open(options.signal);
    await Promise.all([pipeline(input, tap, extract, { signal: options.signal }), readBagEntries(extract, bag as string, observed)]);
  } catch (error) {
    if (error instanceof ExportVerificationError) throw error;
    return fail([...observed.problems, `the archive cannot be read as a tar: ${(error as Error).message}`]);
  }
  const sha256 = archiveHash.digest('hex');
  if ('problem' in expected) observed.problems.push(expected.problem);
  else if (expected.sha256 !== sha256) observed.problems.push(`archive sha256 ${sha256} differs from ${checksumFileName(source.archive)} (${expected.sha256})`);
  const { files, bytes } = checkBag(observed);
  if (observed.problems.length > 0) fail(observed.problems);
  return { location: source.location, size, sha256, files, bytes, verifiedAt: new Date().toISOString() };
}
