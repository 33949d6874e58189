/**
 * What the export's end-to-end tests share: real restic backups through the real gateway
 * (gateway-fixture.ts), the `tenant-backup` CLI run as a child process exactly as the image runs it,
 * and the checks a customer would make on an archive with ordinary tools (sha256sum, tar, restic).
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { requireCommand } from '../harness/commands.ts';
import { expectSuccess, generateTree, hashTree, restic, run, type GatewayFixture, type RunResult } from './gateway-fixture.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The repository password restic() in gateway-fixture.ts gives the client. */
export const CLIENT_PASSWORD = 'client-side-repository-password';

export async function requireExportTools(): Promise<void> {
  await requireCommand('tar', 'apt-get install -y tar');
  await requireCommand('sha256sum', 'apt-get install -y coreutils');
  await requireCommand('restic', 'apt-get install -y restic');
}

/** Runs `tenant-backup <args>` (src/cli/main.ts) with the project's Node. */
export function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return run(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), ...args], { env, timeoutMs: 300_000 });
}

export interface BackedUp {
  /** Source tree of each endpoint, as sha256 per relative path. */
  trees: Record<string, Record<string, string>>;
  roots: Record<string, string>;
}

/** Backs up a generated tree per endpoint with the real restic through the gateway. */
export async function backUpEndpoints(fixture: GatewayFixture, endpoints: string[], work: string, randomBytes = 3_000_000): Promise<BackedUp> {
  const trees: BackedUp['trees'] = {};
  const roots: BackedUp['roots'] = {};
  for (const endpoint of endpoints) {
    const root = join(work, 'source', endpoint);
    await mkdir(root, { recursive: true });
    await generateTree(root, { randomBytes, marker: `marker-${endpoint}` });
    const url = fixture.repositoryUrl(endpoint);
    expectSuccess(await restic(fixture, url, ['init']), `restic init ${endpoint}`);
    expectSuccess(await restic(fixture, url, ['backup', '--host', 'e2e', root]), `restic backup ${endpoint}`);
    roots[endpoint] = root;
    trees[endpoint] = await hashTree(root);
  }
  return { trees, roots };
}

export interface ExportLine {
  exportId: string;
  location: string;
  archive: string;
  size: number;
  sha256: string;
  files: number;
  bytes: number;
}

/** The one JSON line `tenant-backup export` prints. */
export function exportLine(result: RunResult): ExportLine {
  expectSuccess(result, 'tenant-backup export');
  const lines = result.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string) as ExportLine;
}

/** Checks an archive in `dir` as a customer would: sha256sum -c, tar -t, unpack, the bag's manifests. Returns the bag root. */
export async function checkWithOrdinaryTools(dir: string, archive: string): Promise<string> {
  expectSuccess(await runIn(dir, 'sha256sum', ['-c', `${archive}.sha256`]), 'sha256sum -c <archive>.sha256');
  const listing = expectSuccess(await runIn(dir, 'tar', ['-tf', archive]), 'tar -t').stdout.split('\n');
  const bag = archive.replace(/\.tar$/, '');
  for (const file of ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'tagmanifest-sha256.txt', 'README.txt', 'manifest.json']) expect(listing).toContain(`${bag}/${file}`);
  const unpacked = await mkdtemp(join(tmpdir(), 'export-unpacked-'));
  expectSuccess(await run('tar', ['-xf', join(dir, archive), '-C', unpacked]), 'tar -x');
  const root = join(unpacked, bag);
  const manifest = expectSuccess(await runIn(root, 'sha256sum', ['-c', 'manifest-sha256.txt']), 'sha256sum -c manifest-sha256.txt');
  expect(manifest.stdout).not.toMatch(/FAILED/);
  expectSuccess(await runIn(root, 'sha256sum', ['-c', 'tagmanifest-sha256.txt']), 'sha256sum -c tagmanifest-sha256.txt');
  return root;
}

function runIn(cwd: string, command: string, args: string[]): Promise<RunResult> {
  return run('sh', ['-c', `cd "$1" && shift && exec "$@"`, 'sh', cwd, command, ...args]);
}

/** restic check and restore of the latest snapshot from a local repository; returns the hashes of the restored `sourceRoot`. */
export async function restoreLocal(repository: string, target: string, sourceRoot: string): Promise<Record<string, string>> {
  const env = { ...process.env, RESTIC_PASSWORD: CLIENT_PASSWORD };
  expectSuccess(await run('restic', ['-r', repository, '--no-cache', 'check', '--read-data'], { env, timeoutMs: 300_000 }), `restic check ${repository}`);
  expectSuccess(await run('restic', ['-r', repository, '--no-cache', 'restore', 'latest', '--target', target], { env, timeoutMs: 300_000 }), `restic restore ${repository}`);
  return hashTree(join(target, sourceRoot));
}
