/**
 * The bag's tag files as pure functions (RFC 8493): bagit.txt, bag-info.txt, the manifests in the
 * `<sha256>  <path>` form that `sha256sum -c` reads from the bag root, README.txt and manifest.json.
 *
 * Order inside the tar: bagit.txt, bag-info.txt, README.txt and (customer custody) customer-key.json
 * first — all known before any payload is read —, then data/…, then manifest-sha256.txt,
 * manifest.json and tagmanifest-sha256.txt, which need the payload digests. RFC 8493 does not order a
 * serialization's entries; writing the manifests last is what lets the export stream in one pass.
 */
import type { CustomerKeyRecord } from '../gateway/access-config.ts';

export const BAGIT_TXT = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n';
export const MANIFEST_FORMAT = 'tenantbackup.io/export/v1';
export const TAG_FILES = {
  bagit: 'bagit.txt',
  bagInfo: 'bag-info.txt',
  readme: 'README.txt',
  customerKey: 'customer-key.json',
  manifest: 'manifest-sha256.txt',
  manifestJson: 'manifest.json',
  tagManifest: 'tagmanifest-sha256.txt',
} as const;

/** How the payload's objects are stored in the bag. */
export type Custody = 'provider' | 'customer-sealed' | 'none';

export interface BagIdentity {
  organization: string;
  tenant: string;
  space: string;
  spaceUid: string;
  exportId: string;
  createdAt: Date;
}

export interface PayloadDigest {
  /** Path under the bag root, starting with "data/". */
  path: string;
  sha256: string;
  size: number;
}

/** Payload-Oxum: "<octets>.<streams>". */
export function payloadOxum(bytes: number, files: number): string {
  return `${bytes}.${files}`;
}

/** Human-readable size for Bag-Size (decimal units, as RFC 8493's examples). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function bagInfo(identity: BagIdentity, payload: { bytes: number; files: number }): string {
  const lines: Array<[string, string]> = [
    ['Source-Organization', identity.organization],
    ['External-Identifier', `${identity.tenant}/${identity.space}`],
    ['External-Description', `Backup space ${identity.space} of tenant ${identity.tenant}: the restic repositories of its endpoints`],
    ['Bagging-Date', identity.createdAt.toISOString().slice(0, 10)],
    ['Payload-Oxum', payloadOxum(payload.bytes, payload.files)],
    ['Bag-Size', humanSize(payload.bytes)],
    ['Tenant', identity.tenant],
    ['Space', identity.space],
    ['Space-UID', identity.spaceUid],
    ['Export-Id', identity.exportId],
    ['Export-Created', identity.createdAt.toISOString()],
  ];
  return lines.map(([label, value]) => `${label}: ${value}\n`).join('');
}

/** Parses bag-info.txt into label → values (labels may repeat; continuation lines are joined). */
export function parseBagInfo(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: { label: string; index: number } | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && last !== null) {
      const values = fields.get(last.label) ?? [];
      values[last.index] = `${values[last.index] ?? ''} ${line.trim()}`;
      continue;
    }
    const at = line.indexOf(':');
    if (at <= 0) throw new Error(`bag-info.txt: line without "label: value": ${JSON.stringify(line.slice(0, 80))}`);
    const label = line.slice(0, at).trim();
    const values = fields.get(label) ?? [];
    values.push(line.slice(at + 1).trim());
    fields.set(label, values);
    last = { label, index: values.length - 1 };
  }
  return fields;
}

/** A manifest in sha256sum's format, sorted by path so that it is deterministic. */
export function manifestText(entries: ReadonlyArray<{ path: string; sha256: string }>): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((entry) => `${entry.sha256}  ${entry.path}\n`)
    .join('');
}

/** Parses a manifest; throws naming the line when one is not "<64 hex>  <path>". */
export function parseManifest(text: string, file: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const match = /^([0-9a-f]{64})[ \t]+\*?(\S.*)$/.exec(line);
    if (match === null) throw new Error(`${file} line ${i + 1} is not "<sha256>  <path>"`);
    const [, digest, path] = match as unknown as [string, string, string];
    if (entries.has(path)) throw new Error(`${file} lists ${path} twice`);
    entries.set(path, digest);
  }
  return entries;
}

export interface EndpointSummary {
  name: string | null;
  repository: string;
  files: number;
  bytes: number;
}

export interface ManifestJson {
  format: typeof MANIFEST_FORMAT;
  tenant: string;
  space: string;
  spaceUid: string;
  exportId: string;
  organization: string;
  created: string;
  custody: Custody;
  /** One per repository in data/; `name` is the endpoint's when the access configuration names it. */
  endpoints: EndpointSummary[];
  files: number;
  bytes: number;
  /** sha256 of manifest-sha256.txt: one digest that binds every payload file's digest. */
  payloadDigest: string;
}

export function manifestJson(value: Omit<ManifestJson, 'format'>): string {
  return `${JSON.stringify({ format: MANIFEST_FORMAT, ...value }, null, 2)}\n`;
}

/** customer-key.json: what `tenant-backup open-export` needs besides the password. */
export interface CustomerKeyFile {
  format: 'tenantbackup.io/customer-key/v1';
  spaceUid: string;
  keyId: string;
  record: CustomerKeyRecord;
  atRest: string;
}

export function customerKeyFile(spaceUid: string, keyId: string, record: CustomerKeyRecord): string {
  const file: CustomerKeyFile = {
    format: 'tenantbackup.io/customer-key/v1',
    spaceUid,
    keyId,
    record,
    atRest: 'objects that begin with "TBGW-AR\\x01" are AES-256-GCM STREAM-encrypted at rest with the data key (src/gateway/at-rest.ts)',
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export function readme(identity: BagIdentity, custody: Custody, repositories: readonly string[], archive: string): string {
  const bag = archive.replace(/\.tar$/, '');
  const example = repositories[0] ?? '<repository>';
  const common = `Export ${identity.exportId} of backup space "${identity.space}" of tenant "${identity.tenant}"
made by ${identity.organization} on ${identity.createdAt.toISOString()}.

This archive is a BagIt bag (RFC 8493) in a POSIX tar. Check it, then unpack it:

  sha256sum -c ${archive}.sha256          # the archive as a whole (file beside it)
  tar -xf ${archive}
  cd ${bag} && sha256sum -c manifest-sha256.txt && sha256sum -c tagmanifest-sha256.txt

data/ holds one restic repository per backup device (endpoint):
${repositories.map((repository) => `  data/${repository}`).join('\n') || '  (none)'}

`;
  if (custody === 'customer-sealed') {
    return `${common}These repositories are still encrypted with your space key, which only your key password can
open (the provider never had it). Open them with the password alone, offline:

  tenant-backup open-export ${archive} --password-file <file with your key password> --out <new directory>

That writes plain restic repositories; then restore as below, with <new directory>/${example} as the
repository. customer-key.json holds the wrapped key, its salt, scrypt parameters and verifier: without
your key password it cannot be opened, by anyone.

${restoreText(`<new directory>/${example}`)}`;
  }
  return `${common}Each repository is exactly as your backup client (restic) wrote it. Restore with your own
repository password (the one your device was set up with):

${restoreText(`${bag}/data/${example}`)}`;
}

function restoreText(repository: string): string {
  return `  restic -r ${repository} snapshots
  restic -r ${repository} restore latest --target <where to restore>

restic asks for the repository password (or reads it from RESTIC_PASSWORD / --password-file).
Older restic versions work too: the repositories use restic's own local layout.
`;
}
