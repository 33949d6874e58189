/**
 * The contract of the export (issue 11): what `exportSpace` is asked to do and what it and
 * `verifyExport` answer. The termination state machine codes against these types and records the
 * results in the Tenant's status, so they change only by addition.
 */
import type { CustomerKeyRecord } from '../gateway/access-config.ts';

/**
 * How the exporter reads the space's objects.
 *  - `provider`: the operator's custody; the data key removes the at-rest layer, so the bag holds
 *    each repository exactly as the client wrote it.
 *  - `customer`: the space is sealed (the customer's password is not available to us); objects are
 *    exported as stored, with the wrapped key record, so `tenant-backup open-export` can open them
 *    offline with the password alone.
 *  - `none`: nothing is encrypted at rest (encryptAtRest false); an encrypted object found anyway is
 *    an error rather than a silently unreadable export.
 */
export type ExportKey =
  | { mode: 'provider'; dataKey: Uint8Array }
  | { mode: 'customer'; keyId: string; record: CustomerKeyRecord }
  | { mode: 'none' };

/** A directory, e.g. a mounted PersistentVolumeClaim. */
export interface DirectoryTarget {
  kind: 'directory';
  path: string;
}

/** Static credentials; absent fields fall back to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How to reach an S3-compatible object store. */
export interface S3Connection {
  /** e.g. https://s3.example.net:9000; absent: AWS's own endpoint for `region`. */
  endpoint?: string;
  region: string;
  /** Path-style URLs (https://host/bucket/key), what most S3-compatible servers want. Default true. */
  forcePathStyle?: boolean;
  /** Credentials; absent: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment. */
  credentials?: S3Credentials;
  /** PEM bundle of the CAs to trust for the endpoint's TLS certificate (instead of the system's). */
  caFile?: string;
}

/** An S3-compatible object store: a bucket and a key prefix. */
export interface S3Target extends S3Connection {
  kind: 's3';
  bucket: string;
  /** Key prefix, without leading slash; "" for the bucket root. A "/" is put between it and the name. */
  prefix: string;
  /** Multipart part size in bytes (default 16 MiB; S3 requires at least 5 MiB). */
  partSizeBytes?: number;
}

/**
 * A receiver (`tenant-backup receive-export`) that writes the archive where the exporter cannot: a
 * claim of another namespace, mounted by the receiver's pod. The archive goes by HTTPS PUT, the
 * receiver re-reads it from its disk when asked, and says where it is (e.g. `pvc://ns/claim/<archive>`).
 */
export interface HttpTarget {
  kind: 'http';
  /** https:// URL of the receiver; archive names are appended to it (`<url>/<archive>`). */
  url: string;
  /** PEM bundle of the CAs to trust for the receiver's certificate (instead of the system's). */
  caFile?: string;
  /** File holding the bearer token the receiver accepts (one trailing newline is ignored). */
  tokenFile: string;
}

export type ExportTarget = DirectoryTarget | S3Target | HttpTarget;

/** One endpoint of the space, as the gateway's access configuration names it. */
export interface ExportEndpoint {
  name: string;
  /** Its repository path under the data directory, e.g. `endpoints/laptop-01`. */
  repository: string;
}

export interface ExportOptions {
  /** The space's volume: the gateway's --data-dir. */
  dataDir: string;
  /** Tenant name (cluster-scoped). */
  tenant: string;
  /** BackupSpace name. */
  space: string;
  /** BackupSpace metadata.uid (bound into at-rest encryption and the wrapped key). */
  spaceUid: string;
  /**
   * Deterministic id of this export (e.g. derived from the termination): lowercase letters, digits
   * and "-", 1–63 characters. Same input + same id (+ same createdAt) → byte-identical archive.
   */
  exportId: string;
  /** Bag-info Source-Organization: the provider. */
  organization: string;
  /**
   * When the export was decided; becomes Bagging-Date, `created` and every tar mtime. Record it with
   * the export id so that a restarted export writes the same bytes.
   */
  createdAt: Date;
  key: ExportKey;
  /**
   * Endpoints to name in manifest.json. Every repository found on the volume is exported whether or
   * not it is listed (an orphaned repository is still customer data).
   */
  endpoints?: ExportEndpoint[];
  target: ExportTarget;
  signal?: AbortSignal;
}

export interface ExportResult {
  exportId: string;
  /** Where the archive is: an absolute file path, `s3://bucket/key`, or where a receiver put it (`pvc://namespace/claim/<archive>`). */
  location: string;
  /** Archive file name, e.g. `acme_space-1_term-1a2b.tar`. */
  archive: string;
  /** Archive size in bytes. */
  size: number;
  /** sha256 of the archive (hex), as written in `<archive>.sha256`. */
  sha256: string;
  /** Payload files in the bag. */
  files: number;
  /** Payload bytes (the Payload-Oxum octet count). */
  bytes: number;
  /** True when a finished, verified archive of this export id was already at the target and was kept. */
  reused: boolean;
  /** The re-read of the archive at the target that this export made before returning. */
  verification: VerifyResult;
}

export interface VerifyResult {
  location: string;
  size: number;
  sha256: string;
  files: number;
  bytes: number;
  verifiedAt: string;
}

/** How verifyExport reaches an archive given as `s3://bucket/key`. */
export interface VerifyOptions {
  s3?: S3Connection;
  signal?: AbortSignal;
}
