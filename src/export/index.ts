/**
 * The export of one space (issue 11): a BagIt bag (RFC 8493) in a POSIX tar, its `.sha256` beside it,
 * written to a directory or an S3-compatible store, and re-verified by reading it back.
 */
export type { DirectoryTarget, ExportEndpoint, HttpTarget, ExportKey, ExportOptions, ExportResult, ExportTarget, S3Connection, S3Credentials, S3Target, VerifyOptions, VerifyResult } from './types.ts';
export { exportSpace } from './export.ts';
export { verifyExport, ExportVerificationError } from './verify.ts';
