/**
 * Where things are: the gateway's URL layout and its on-disk layout, and the validation that keeps a
 * request inside the one repository its endpoint owns.
 *
 * URL layout (one gateway serves one space):
 *
 *   /<endpoint>/                  POST ?create=true creates the repository; DELETE → 501
 *   /<endpoint>/config            HEAD, GET, POST, DELETE
 *   /<endpoint>/<type>/           GET: listing (v1 names, or v2 names + sizes)
 *   /<endpoint>/<type>/<id>       HEAD, GET (Range), POST, DELETE; <id> is 64 lowercase hex digits
 *                                 <type> is data | keys | locks | snapshots | index
 *   /v1/...                       human routes and the operator's report (see server.ts)
 *   /metrics  /healthz  /readyz   Prometheus metrics and probes
 *
 * so a restic client uses `rest:https://<endpoint>:<secret>@<host>:<port>/<endpoint>/` (the same shape
 * as rest-server's --private-repos). Endpoint names equal to a reserved first segment (v1, metrics,
 * healthz, readyz) cannot be routed; the config loader refuses them.
 *
 * On-disk layout under --data-dir, per endpoint repository (`repository` in the access config):
 *
 *   <data-dir>/<repository>/config
 *   <data-dir>/<repository>/{keys,locks,snapshots,index}/<id>
 *   <data-dir>/<repository>/data/<first two hex digits of id>/<id>
 *   .<name>.tmp-<random>   upload in progress, beside its final name; never listed, removed by a scan
 *                          once nobody has written it for 15 minutes
 *   <data-dir>/.tenant-backup/   the gateway's own files: the space's shared quota ledger (quota.ts)
 *
 * Requests are matched against a strict grammar instead of being normalised: anything with
 * percent-encoding, backslashes, NUL, empty or dot segments is refused before it reaches the disk, so
 * there is no decoding step an attacker could play with.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { GATEWAY_RESERVED_PATH_SEGMENTS } from './access-config.ts';

export const RESTIC_OBJECT_TYPES = ['data', 'keys', 'locks', 'snapshots', 'index'] as const;
export type ResticObjectType = (typeof RESTIC_OBJECT_TYPES)[number];
/** Every kind of file in a restic repository. */
export type ResticFileType = ResticObjectType | 'config';
export const RESTIC_FILE_TYPES: readonly ResticFileType[] = ['config', ...RESTIC_OBJECT_TYPES];

const OBJECT_ID = /^[0-9a-f]{64}$/;
/** Kubernetes object names (DNS-1123 subdomain) and a little more; never "." or "..". */
const ENDPOINT_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const REPOSITORY_SEGMENT = /^[A-Za-z0-9._-]{1,255}$/;
const MAX_REPOSITORY_LENGTH = 1024;

/** The gateway's own directory on the space volume (the quota ledger): never a repository, skipped by the scan. */
export const GATEWAY_STATE_DIR = '.tenant-backup';

export function isObjectType(value: string): value is ResticObjectType {
  return (RESTIC_OBJECT_TYPES as readonly string[]).includes(value);
}

export function isObjectId(value: string): boolean {
  return OBJECT_ID.test(value);
}

export function isValidEndpointName(name: string): boolean {
  return ENDPOINT_NAME.test(name) && !name.includes('..') && !GATEWAY_RESERVED_PATH_SEGMENTS.includes(name);
}

/** A file of a repository: the config, or an object of a type. */
export type FileRef = { type: 'config' } | { type: ResticObjectType; id: string };

/** The name an object is known by inside its repository ("config", "data/<id>"): bound into at-rest AAD. */
export function fileRefName(ref: FileRef): string {
  return ref.type === 'config' ? 'config' : `${ref.type}/${ref.id}`;
}

export type DataRoute =
  | { kind: 'repository'; endpoint: string }
  | { kind: 'file'; endpoint: string; file: FileRef }
  | { kind: 'list'; endpoint: string; type: ResticObjectType };

export type RequestTarget = { path: string; query: URLSearchParams };

/**
 * Splits a request target into path and query; null when the path contains anything the strict
 * grammar forbids (percent-encoding, backslash, NUL and other control characters, `//`, `.` or `..`
 * segments) or is not origin-form.
 */
export function parseRequestTarget(url: string | undefined): RequestTarget | null {
  if (url === undefined || !url.startsWith('/')) return null;
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  // eslint-disable-next-line no-control-regex
  if (/[%\\\x00-\x1f\x7f]/.test(path) || path.includes('//')) return null;
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return null;
  return { path, query };
}

/** Matches a data-plane path; null when it is not one (the caller answers 404). */
export function parseDataRoute(path: string): DataRoute | null {
  const segments = path.split('/').slice(1);
  const [endpoint, second, third, ...rest] = segments;
  if (endpoint === undefined || !isValidEndpointName(endpoint) || rest.length > 0) return null;
  if (second === undefined || (second === '' && third === undefined)) return { kind: 'repository', endpoint };
  if (second === 'config' && third === undefined) return { kind: 'file', endpoint, file: { type: 'config' } };
  if (!isObjectType(second) || third === undefined) return null;
  if (third === '') return { kind: 'list', endpoint, type: second };
  if (!isObjectId(third)) return null;
  return { kind: 'file', endpoint, file: { type: second, id: third } };
}

/**
 * Checks a repository path from the access configuration: relative, `/`-separated segments of
 * [A-Za-z0-9._-], no `.` or `..`. Returns a reason when it is not acceptable.
 */
export function repositoryPathProblem(repository: string): string | null {
  if (repository.length === 0 || repository.length > MAX_REPOSITORY_LENGTH) return 'must be 1 to 1024 characters';
  if (repository.startsWith('/')) return 'must be relative (no leading slash)';
  if (repository.split('/')[0] === GATEWAY_STATE_DIR) return `must not lie in ${GATEWAY_STATE_DIR}, the gateway's own directory`;
  for (const segment of repository.split('/')) {
    if (segment === '.' || segment === '..') return 'must not contain "." or ".." segments';
    if (!REPOSITORY_SEGMENT.test(segment)) return 'segments must be non-empty and use only letters, digits, ".", "_" and "-"';
  }
  return null;
}

/** True when one repository path equals or lies inside the other (their files would mix). */
export function repositoriesOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * Absolute directory of a repository under the data directory. Throws if the result would leave the
 * data directory (defence in depth: repositoryPathProblem already refuses such paths).
 */
export function repositoryDirectory(dataDir: string, repository: string): string {
  const problem = repositoryPathProblem(repository);
  if (problem !== null) throw new Error(`invalid repository path: ${problem}`);
  const root = resolve(dataDir);
  const directory = resolve(root, repository);
  const inside = relative(root, directory);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) throw new Error('repository path leaves the data directory');
  return directory;
}

/** Directory that holds a file of a repository. */
export function fileDirectory(repositoryDir: string, ref: FileRef): string {
  if (ref.type === 'config') return repositoryDir;
  if (ref.type === 'data') return `${repositoryDir}${sep}data${sep}${ref.id.slice(0, 2)}`;
  return `${repositoryDir}${sep}${ref.type}`;
}

/** Absolute path of a file of a repository. */
export function filePath(repositoryDir: string, ref: FileRef): string {
  return `${fileDirectory(repositoryDir, ref)}${sep}${ref.type === 'config' ? 'config' : ref.id}`;
}

const TEMPORARY_FILE = /^\.(?:config|[0-9a-f]{64})\.tmp-[0-9a-f]{16}$/;

/** Name of an upload's temporary file, beside its final name (same directory, so rename is atomic). */
export function temporaryFileName(ref: FileRef, random: string): string {
  return `.${ref.type === 'config' ? 'config' : ref.id}.tmp-${random}`;
}

export function isTemporaryFileName(name: string): boolean {
  return TEMPORARY_FILE.test(name);
}
