/**
 * A full volume (issue 12 item 6): the gateway's data directory on a real, small filesystem (a tmpfs
 * of a few MiB mounted for the test), a quota far larger than the volume, so that the disk, not the
 * quota, runs out. A backup that hits ENOSPC is answered 507 Insufficient Storage — what restic's
 * REST protocol expects for a full repository, not a 500 — its partial file is removed, the quota
 * account stays right, `restic check` passes on the full volume, and once space is freed the next
 * backup succeeds and the repository checks out with all its data read.
 *
 * Mounting needs root (CI runs as root); elsewhere the file fails, saying why — it never skips.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '../../src/crypto/index.ts';
import { GatewayFixture, expectSuccess, listFiles, restic } from './gateway-fixture.ts';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;
const ENDPOINT = 'server-03';
const VOLUME_BYTES = 12 * MiB;

/** Whether a tmpfs can be mounted here (a probe mounted and unmounted at once); the reason if not. */
async function mountProblemHere(): Promise<string | null> {
  const probe = await mkdtemp(join(tmpdir(), 'gateway-disk-full-probe-'));
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
    await execFileAsync('umount', [probe]);
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? 'mount failed';
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

const mountProblem = await mountProblemHere();
let mountPoint = '';

async function freeBytes(): Promise<number> {
  const stats = await statfs(mountPoint);
  return stats.bavail * stats.bsize;
}

describe('a backup into a full volume', () => {
  let fixture: GatewayFixture;
  let work: string;
  let cacheDir: string;
  let filler: string;
  const resticHere = (args: string[]) => restic(fixture, fixture.repositoryUrl(ENDPOINT), args, { cacheDir });

  beforeAll(async () => {
    if (mountProblem !== null) throw new Error(`a small tmpfs cannot be mounted here: ${mountProblem}; run the suite as root (mount -t tmpfs needs CAP_SYS_ADMIN)`);
    mountPoint = await mkdtemp(join(tmpdir(), 'gateway-disk-full-'));
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${VOLUME_BYTES},mode=0700`, 'tmpfs', mountPoint]);
    filler = join(mountPoint, 'filler.bin');
    // The fixture (config, certificates, data directory) lives on the small volume; restic's files do not.
    fixture = await GatewayFixture.start({ endpoints: [{ name: ENDPOINT }], quotaBytes: 1024 * MiB, encryptAtRest: true, scrypt: TEST_SCRYPT_PARAMS, baseDir: mountPoint });
    work = await mkdtemp(join(tmpdir(), 'gateway-disk-full-work-'));
    cacheDir = join(work, 'cache');
  });

  afterAll(async () => {
    await fixture?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    if (mountPoint !== '') {
      await execFileAsync('umount', [mountPoint]).catch((error: unknown) => console.warn(`umount ${mountPoint}: ${(error as Error).message}`));
      await rm(mountPoint, { recursive: true, force: true });
    }
  });

  it('answers 507 when the disk fills mid-upload, removes the partial file and keeps the repository consistent', async () => {
    expectSuccess(await resticHere(['init']), 'init');
    await mkdir(join(work, 'small'), { recursive: true });
    await writeFile(join(work, 'small', 'a.bin'), randomBytes(MiB));
    expectSuccess(await resticHere(['backup', join(work, 'small')]), 'first backup');

    // Leave about 3 MiB free, then back up 6 MiB that does not compress.
    await writeFile(filler, Buffer.alloc(Math.max(0, (await freeBytes()) - 3 * MiB)));
    const freeBefore = await freeBytes();
    expect(freeBefore).toBeLessThan(4 * MiB);
    await mkdir(join(work, 'big'), { recursive: true });
    await writeFile(join(work, 'big', 'b.bin'), randomBytes(6 * MiB));
    const failed = await resticHere(['backup', join(work, 'big')]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/507/);
    expect(failed.stderr).not.toMatch(/500 Internal Server Error/);
    expect(fixture.logs).toContain('the space volume is full');
    expect(await fixture.metrics()).toMatch(new RegExp(`tenant_backup_gateway_volume_full_refusals_total\\{endpoint="${ENDPOINT}"\\} [1-9]`));

    // Nothing partial is left, and the space it took is free again.
    expect((await listFiles(fixture.dataDir)).filter((path) => basename(path).includes('.tmp-'))).toEqual([]);
    expect(await freeBytes()).toBeGreaterThan(freeBefore - MiB);
    // The account counted nothing that is not stored: a fresh scan after a restart gives the same figure.
    const counted = (await fixture.report()).space.usedBytes;
    expect(await fixture.stopProcess()).toBe(0);
    await fixture.startProcess();
    expect((await fixture.report()).space.usedBytes).toBe(counted);

    // restic check passes on the full volume (it needs only a lock file).
    const check = expectSuccess(await resticHere(['check']), 'check on the full volume');
    expect(check.stdout).toContain('no errors were found');
  }, 300_000);

  it('backs up again once space is freed, and the repository checks out with every byte read', async () => {
    await rm(filler);
    expectSuccess(await resticHere(['backup', join(work, 'big')]), 'backup after space was freed');
    const check = expectSuccess(await resticHere(['check', '--read-data']), 'check --read-data');
    expect(check.stdout).toContain('no errors were found');
    const snapshots = JSON.parse(expectSuccess(await resticHere(['snapshots', '--json']), 'snapshots').stdout) as unknown[];
    expect(snapshots).toHaveLength(2);
    const restored = join(work, 'restored');
    expectSuccess(await resticHere(['restore', 'latest', '--target', restored]), 'restore');
    expect((await listFiles(restored)).map((path) => basename(path))).toContain('b.bin');
  }, 300_000);
});
