/**
 * Finds what a space's volume holds: every restic repository under the data directory (a directory
 * with a `config` file, in the gateway's layout, src/gateway/paths.ts) and each of its files with the
 * size it will have in the bag — the plaintext size when the at-rest layer is removed, read from the
 * object's header without decrypting anything.
 *
 * Left out, on purpose: the gateway's upload temporaries (never objects), and lock files — a lock
 * belongs to a client process that no longer runs when the space is exported, and a stale lock
 * would only make restic ask for `restic unlock`. The locks/ directory itself stays.
 * Anything else inside a repository is refused with its path, so nothing is silently dropped.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AT_REST_HEADER_BYTES, hasAtRestMagic, parseHeader, plaintextSize, type AtRestHeader } from '../gateway/at-rest.ts';
import { mapLimited } from '../gateway/object-store.ts';
import { isObjectId, isObjectType, isTemporaryFileName } from '../gateway/paths.ts';
import type { Custody } from './bag.ts';
import { isSafeBagPath } from './names.ts';

export interface ScannedFile {
  /** Path under data/: `<repository>/<name in the repository>`. */
  path: string;
  repository: string;
  /** "config", "data/<id>", ...: the name at-rest encryption is bound to. */
  objectName: string;
  absolute: string;
  /** Bytes on disk. */
  storedSize: number;
  /** Bytes in the bag. */
  size: number;
  /** The at-rest header when this file is decrypted on the way into the bag. */
  decrypt: AtRestHeader | null;
}

export interface VolumeScan {
  /** Repository paths, sorted. */
  repositories: string[];
  /** Directories under data/ (repositories, their subdirectories and their parents), sorted. */
  directories: string[];
  /** Payload files, sorted by path. */
  files: ScannedFile[];
  bytes: number;
}

const SKIPPED_TOP_LEVEL = new Set(['lost+found']);
const HEADER_CONCURRENCY = 16;

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readAtRestHeader(path: string, size: number): Promise<AtRestHeader | null> {
  if (size < AT_REST_HEADER_BYTES) return null;
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const bytes = Buffer.alloc(AT_REST_HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, AT_REST_HEADER_BYTES, 0);
    return bytesRead === AT_REST_HEADER_BYTES && hasAtRestMagic(bytes) ? parseHeader(bytes) : null;
  } finally {
    await handle.close();
  }
}

interface Candidate {
  path: string;
  repository: string;
  objectName: string;
  absolute: string;
  storedSize: number;
}

async function regularFileSize(absolute: string, shown: string): Promise<number> {
  const stats = await lstat(absolute);
  if (!stats.isFile()) throw new Error(`${shown} is not a regular file (symlinks and special files are not repository content)`);
  return stats.size;
}

async function scanRepository(root: string, repository: string, directories: string[], candidates: Candidate[]): Promise<void> {
  const base = join(root, repository);
  directories.push(repository);
  for (const entry of await readdir(base, { withFileTypes: true })) {
    const shown = `${repository}/${entry.name}`;
    if (isTemporaryFileName(entry.name)) continue;
    if (entry.name === 'config') {
      candidates.push({ path: shown, repository, objectName: 'config', absolute: join(base, 'config'), storedSize: await regularFileSize(join(base, 'config'), shown) });
      continue;
    }
    if (!entry.isDirectory() || !isObjectType(entry.name)) throw new Error(`unexpected entry in repository ${repository}: ${entry.name}`);
    const type = entry.name;
    directories.push(shown);
    const typeDir = join(base, type);
    for (const child of await readdir(typeDir, { withFileTypes: true })) {
      const childShown = `${shown}/${child.name}`;
      if (isTemporaryFileName(child.name)) continue;
      if (type === 'locks') continue;
      if (type === 'data') {
        if (!child.isDirectory() || !/^[0-9a-f]{2}$/.test(child.name)) throw new Error(`unexpected entry in repository ${repository}: data/${child.name}`);
        directories.push(childShown);
        for (const object of await readdir(join(typeDir, child.name), { withFileTypes: true })) {
          if (isTemporaryFileName(object.name)) continue;
          if (!isObjectId(object.name) || !object.name.startsWith(child.name)) throw new Error(`unexpected entry in repository ${repository}: data/${child.name}/${object.name}`);
          const absolute = join(typeDir, child.name, object.name);
          candidates.push({ path: `${childShown}/${object.name}`, repository, objectName: `data/${object.name}`, absolute, storedSize: await regularFileSize(absolute, `${childShown}/${object.name}`) });
        }
        continue;
      }
      if (!isObjectId(child.name)) throw new Error(`unexpected entry in repository ${repository}: ${type}/${child.name}`);
      const absolute = join(typeDir, child.name);
      candidates.push({ path: childShown, repository, objectName: `${type}/${child.name}`, absolute, storedSize: await regularFileSize(absolute, childShown) });
    }
  }
}

/** Walks down from the data directory; a directory with a `config` file is a repository. */
async function findRepositories(root: string, relative: string, found: string[]): Promise<void> {
  const entries = await readdir(join(root, relative), { withFileTypes: true });
  if (relative !== '' && entries.some((entry) => entry.name === 'config' && entry.isFile())) {
    found.push(relative);
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    if (relative === '' && SKIPPED_TOP_LEVEL.has(entry.name)) continue;
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (!isSafeBagPath(path)) throw new Error(`directory ${JSON.stringify(path)} on the volume has a name a repository path cannot have`);
    await findRepositories(root, path, found);
  }
}

function parentsOf(repository: string): string[] {
  const segments = repository.split('/');
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

/**
 * Scans the volume. `custody` decides what happens to objects encrypted at rest: `provider` decrypts
 * them (size = plaintext size), `customer-sealed` keeps them as stored, `none` refuses them (the
 * export would be unreadable without a key nobody passed).
 */
export async function scanVolume(dataDir: string, custody: Custody): Promise<VolumeScan> {
  const repositories: string[] = [];
  await findRepositories(dataDir, '', repositories);
  const directories = new Set<string>();
  const candidates: Candidate[] = [];
  for (const repository of repositories) {
    for (const parent of parentsOf(repository)) directories.add(parent);
    const inRepository: string[] = [];
    await scanRepository(dataDir, repository, inRepository, candidates);
    for (const directory of inRepository) directories.add(directory);
  }
  // Sorted first, and a refusal is returned rather than thrown, so that the error names the first
  // offending file by path whatever the directory order of the filesystem and the header reads' timing.
  candidates.sort((a, b) => byPath(a.path, b.path));
  const scanned = await mapLimited(candidates, HEADER_CONCURRENCY, async (candidate): Promise<ScannedFile | Error> => {
    if (custody === 'customer-sealed') return { ...candidate, size: candidate.storedSize, decrypt: null };
    const header = await readAtRestHeader(candidate.absolute, candidate.storedSize);
    if (header === null) return { ...candidate, size: candidate.storedSize, decrypt: null };
    if (custody === 'none') return new Error(`${candidate.path} is encrypted at rest but the export was given no data key (pass the space's key)`);
    const size = plaintextSize(candidate.storedSize, header.chunkBytes);
    if (size === null) return new Error(`${candidate.path} is encrypted at rest with an impossible size (truncated?)`);
    return { ...candidate, size, decrypt: header };
  });
  const refusal = scanned.find((entry) => entry instanceof Error);
  if (refusal !== undefined) throw refusal;
  const files = scanned.filter((entry): entry is ScannedFile => !(entry instanceof Error));
  return {
    repositories: repositories.sort(byPath),
    directories: [...directories].sort(byPath),
    files,
    bytes: files.reduce((sum, file) => sum + file.size, 0),
  };
}

