import type { ExportOptions, ExportResult } from './types.ts';

/** Exports one space's volume into one archive at the target, re-verified before it returns. */
export function exportSpace(options: ExportOptions): Promise<ExportResult> {
  return Promise.reject(new Error(`export ${options.exportId}: not implemented yet`));
}
