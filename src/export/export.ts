/**
 * exportSpace: one space's volume → one archive at the target, re-read and verified before it
 * returns. Restartable without a second, conflicting archive: the archive's name comes from the
 * export id, its bytes from the volume, the id and createdAt alone; an archive of this name that is
 * already finished and verifies is kept (reused: true) instead of being written again.
 */
import { checkExportIdentity, archiveName } from './names.ts';
import { checksumLine, writeArchive, type WrittenArchive } from './archive.ts';
import type { BagIdentity, Custody } from './bag.ts';
import { scanVolume } from './scan.ts';
import { openTarget } from './targets.ts';
import type { ExportOptions, ExportResult, VerifyResult } from './types.ts';
import { ExportVerificationError } from './verify.ts';

export function custodyOf(options: Pick<ExportOptions, 'key'>): Custody {
  if (options.key.mode === 'provider') return 'provider';
  if (options.key.mode === 'customer') return 'customer-sealed';
  return 'none';
}

function identityOf(options: ExportOptions): BagIdentity {
  if (!(options.createdAt instanceof Date) || Number.isNaN(options.createdAt.getTime())) throw new Error('invalid export: createdAt must be a valid date');
  const identity = { organization: options.organization, tenant: options.tenant, space: options.space, spaceUid: options.spaceUid, exportId: options.exportId, createdAt: options.createdAt };
  checkExportIdentity(identity);
  if (options.key.mode === 'provider' && options.key.dataKey.byteLength !== 32) throw new Error('invalid export: key.dataKey must be 32 bytes');
  return identity;
}

/**
 * Writes the archive without the final re-read: the part of exportSpace the benchmark times on its
 * own. Returns the location and what was written.
 */
export async function writeExport(options: ExportOptions): Promise<{ location: string; archive: string; written: WrittenArchive }> {
  const identity = identityOf(options);
  const custody = custodyOf(options);
  const target = await openTarget(options.target);
  const archive = archiveName(options.tenant, options.space, options.exportId);
  const scan = await scanVolume(options.dataDir, custody);
  const write = await target.begin(archive);
  let written: WrittenArchive;
  try {
    written = await writeArchive({ identity, custody, key: options.key, endpoints: options.endpoints ?? [], scan, archive, signal: options.signal }, write.stream);
    await write.complete(checksumLine(written.sha256, archive));
  } catch (error) {
    await write.abort();
    throw error;
  }
  return { location: target.location(archive), archive, written };
}

export async function exportSpace(options: ExportOptions): Promise<ExportResult> {
  identityOf(options);
  const target = await openTarget(options.target);
  const archive = archiveName(options.tenant, options.space, options.exportId);
  const location = target.location(archive);

  if (await target.finished(archive)) {
    const existing = await target.verify(archive, options.signal).catch((error: unknown) => {
      if (error instanceof ExportVerificationError) return null; // damaged: written again below
      throw error;
    });
    if (existing !== null) return resultOf(options.exportId, archive, existing, true);
  }

  const { written } = await writeExport(options);
  const verification = await target.verify(archive, options.signal);
  if (verification.sha256 !== written.sha256 || verification.size !== written.size || verification.files !== written.files || verification.bytes !== written.bytes) {
    throw new ExportVerificationError(`${location}: read back ${verification.size} bytes with sha256 ${verification.sha256}, but ${written.size} bytes with sha256 ${written.sha256} were written`);
  }
  return resultOf(options.exportId, archive, verification, false);
}

function resultOf(exportId: string, archive: string, verification: VerifyResult, reused: boolean): ExportResult {
  return {
    exportId,
    location: verification.location,
    archive,
    size: verification.size,
    sha256: verification.sha256,
    files: verification.files,
    bytes: verification.bytes,
    reused,
    verification,
  };
}
