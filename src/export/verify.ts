import type { VerifyOptions, VerifyResult } from './types.ts';

/** An archive failed verification; the message names the file or digest that did not match. */
export class ExportVerificationError extends Error {
  override readonly name = 'ExportVerificationError';
}

/** Re-reads an archive (a file path or `s3://bucket/key`) and checks every digest of it. */
export function verifyExport(location: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  void options;
  return Promise.reject(new ExportVerificationError(`${location}: not implemented yet`));
}
