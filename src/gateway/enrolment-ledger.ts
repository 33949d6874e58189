/**
 * Which activation codes were exchanged (POST /v1/enrol), kept on the space's volume so that "once"
 * holds across the space's replicas and across restarts: a code is claimed by creating its marker
 * file with O_CREAT|O_EXCL (`open(path, 'wx')`), which is atomic on every POSIX filesystem a volume
 * is served from, network ones included — the same primitive VolumeLock is built on, without the
 * lock around it because the claim is that single step. Two replicas answering the same code at the
 * same moment both try to create the file; exactly one succeeds and hands out the credentials.
 *
 * Not memory (a restarted or second replica would accept the code again) and not an API object (the
 * gateway has no Kubernetes credentials, by design). The marker is named after the seal, not the
 * code: it holds the endpoint name and the time, nothing secret.
 */
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnrolmentSeal } from './access-config.ts';

export class EnrolmentLedger {
  readonly #directory: string;

  constructor(directory: string) {
    this.#directory = directory;
  }

  /** True when this call claimed the code; false when it was claimed before, here or by another replica. */
  async claim(endpoint: string, seal: EnrolmentSeal, now = new Date()): Promise<boolean> {
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
    let handle;
    try {
      handle = await open(join(this.#directory, markerName(endpoint, seal)), 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      await handle.writeFile(`${JSON.stringify({ endpoint, enrolledAt: now.toISOString() })}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  }
}

/** `<endpoint>.<digest of the seal>`: a new code for the same endpoint is a new marker. */
export function markerName(endpoint: string, seal: EnrolmentSeal): string {
  return `${endpoint}.${createHash('sha256').update(seal.wrappedCredential).digest('hex').slice(0, 32)}`;
}
