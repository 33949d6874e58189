/**
 * Names in an export: the export id rule, the archive's file name, the bag's top-level directory and
 * the object name (bound into at-rest encryption) of a payload file.
 *
 * The archive is `<tenant>_<space>_<export id>.tar` and its bag directory the same without `.tar`
 * (RFC 8493 §4.1: a serialized bag unpacks into one directory named like the file). "_" appears in
 * none of the three names (Kubernetes names and the export id rule exclude it), so the name splits
 * back unambiguously.
 */
import { isObjectId, isObjectType } from '../gateway/paths.ts';

const EXPORT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const KUBERNETES_NAME = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;

/** The reason an export id is not acceptable, or null. */
export function exportIdProblem(id: string): string | null {
  return EXPORT_ID.test(id) ? null : 'must be 1 to 63 lowercase letters, digits or "-", starting and ending with a letter or digit';
}

/** Throws an error naming the field and its rule when the identity of an export is not acceptable. */
export function checkExportIdentity(identity: { tenant: string; space: string; spaceUid: string; exportId: string; organization: string }): void {
  const problems: string[] = [];
  const idProblem = exportIdProblem(identity.exportId);
  if (idProblem !== null) problems.push(`exportId ${idProblem}`);
  if (!KUBERNETES_NAME.test(identity.tenant)) problems.push('tenant must be a Kubernetes object name (DNS-1123 subdomain)');
  if (!KUBERNETES_NAME.test(identity.space)) problems.push('space must be a Kubernetes object name (DNS-1123 subdomain)');
  if (!/^[A-Za-z0-9-]{1,128}$/.test(identity.spaceUid)) problems.push('spaceUid must be 1 to 128 letters, digits or "-" (a metadata.uid)');
  // One line of bag-info.txt: no line breaks, and something to show.
  if (identity.organization.trim() === '' || /[\r\n]/.test(identity.organization)) problems.push('organization must be non-empty and on one line');
  if (problems.length > 0) throw new Error(`invalid export: ${problems.join('; ')}`);
}

export function bagName(tenant: string, space: string, exportId: string): string {
  return `${tenant}_${space}_${exportId}`;
}

export function archiveName(tenant: string, space: string, exportId: string): string {
  return `${bagName(tenant, space, exportId)}.tar`;
}

export function checksumFileName(archive: string): string {
  return `${archive}.sha256`;
}

/** The bag directory an archive name unpacks into; null when the name is not an archive name of ours. */
export function bagNameOfArchive(archive: string): string | null {
  const match = /^([^/_]+)_([^/_]+)_([^/_]+)\.tar$/.exec(archive);
  return match === null ? null : archive.slice(0, -'.tar'.length);
}

/** A payload file: its repository (path under data/) and its name inside the repository. */
export interface PayloadName {
  repository: string;
  /** "config", "keys/<id>", "data/<id>", ...: what at-rest encryption binds the object to. */
  objectName: string;
}

/**
 * Splits a path under the bag's data/ directory into repository and object name, following the
 * gateway's on-disk layout (src/gateway/paths.ts); null when the path is not a repository file.
 */
export function parsePayloadPath(path: string): PayloadName | null {
  const segments = path.split('/');
  const last = segments.at(-1) ?? '';
  if (last === 'config' && segments.length >= 2) return { repository: segments.slice(0, -1).join('/'), objectName: 'config' };
  if (segments.length >= 4 && segments.at(-3) === 'data' && isObjectId(last) && segments.at(-2) === last.slice(0, 2)) {
    return { repository: segments.slice(0, -3).join('/'), objectName: `data/${last}` };
  }
  const type = segments.at(-2) ?? '';
  if (segments.length >= 3 && type !== 'data' && isObjectType(type) && isObjectId(last)) {
    return { repository: segments.slice(0, -2).join('/'), objectName: `${type}/${last}` };
  }
  return null;
}

/** Bytes that may appear in a path inside the bag: what repository paths and restic names use. */
export function isSafeBagPath(path: string): boolean {
  return /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(path) && !path.split('/').some((s) => s === '.' || s === '..');
}
