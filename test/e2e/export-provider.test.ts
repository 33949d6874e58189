/**
 * Export under provider custody with at-rest encryption on: real restic backups through the real
 * gateway (TLS), exported by `tenant-backup export` from the gateway's data dir, then checked with
 * ordinary tools (sha256sum -c, tar -t, the bag's manifests), verify-export, and restored with plain
 * `restic -r` to byte-identical trees. Also: the same export id gives the same bytes, a finished
 * export is reused, and a corrupted archive is refused naming what failed.
 */
import { readFile, writeFile, mkdtemp, rm, open, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '../../src/crypto/index.ts';
import { hasAtRestMagic } from '../../src/gateway/at-rest.ts';
import { exportSpace, verifyExport } from '../../src/export/index.ts';
import { readSpaceFacts } from '../../src/export/key-source.ts';
import { GatewayFixture, listFiles, run, storedFiles } from './gateway-fixture.ts';
import { backUpEndpoints, checkWithOrdinaryTools, cli, exportLine, requireExportTools, restoreLocal, type BackedUp, type ExportLine } from './export-fixture.ts';

const ENDPOINTS = ['laptop-01', 'server-02'];
const CREATED = '2026-12-01T10:00:00Z';

let fixture: GatewayFixture;
let work: string;
let backedUp: BackedUp;
let first: ExportLine;

function exportArgs(targetDir: string, exportId = 'term-0001'): string[] {
  return ['export', '--data-dir', fixture.dataDir, '--config-dir', fixture.configDir, '--tenant', 'acme', '--export-id', exportId, '--organization', 'Example Hosting S.p.A.', '--created', CREATED, '--target-dir', targetDir];
}

beforeAll(async () => {
  await requireExportTools();
  fixture = await GatewayFixture.start({ endpoints: ENDPOINTS.map((name) => ({ name })), encryptAtRest: true, custody: 'provider', scrypt: TEST_SCRYPT_PARAMS });
  work = await mkdtemp(join(tmpdir(), 'export-provider-'));
  backedUp = await backUpEndpoints(fixture, ENDPOINTS, work);
}, 300_000);

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('export of a provider-custody space encrypted at rest', () => {
  it('reads a volume whose objects really are encrypted at rest', async () => {
    const files = await storedFiles(fixture.dataDir);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) expect(hasAtRestMagic(await readFile(file))).toBe(true);
  });

  it('writes one archive and its .sha256, printing one JSON line after verifying it', async () => {
    const out = join(work, 'out');
    first = exportLine(await cli(exportArgs(out)));
    expect(first).toMatchObject({ exportId: 'term-0001', archive: 'acme_space-1_term-0001.tar', location: join(out, 'acme_space-1_term-0001.tar') });
    expect(first.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.files).toBeGreaterThan(10);
    const names = (await listFiles(out)).map((file) => file.slice(out.length + 1)).sort();
    expect(names).toEqual(['acme_space-1_term-0001.tar', 'acme_space-1_term-0001.tar.sha256']);
  });

  it('passes sha256sum -c, tar -t and the bag manifests; restic restores byte-identical trees from data/<repository>', async () => {
    const root = await checkWithOrdinaryTools(join(work, 'out'), first.archive);
    const bagInfo = await readFile(join(root, 'bag-info.txt'), 'utf8');
    expect(bagInfo).toContain(`Payload-Oxum: ${first.bytes}.${first.files}`);
    expect(bagInfo).toContain('External-Identifier: acme/space-1');
    expect(bagInfo).toContain('Bagging-Date: 2026-12-01');
    const manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8')) as { custody: string; endpoints: Array<{ name: string; repository: string }>; files: number };
    expect(manifest.custody).toBe('provider');
    expect(manifest.endpoints.map((e) => e.name)).toEqual(ENDPOINTS);
    expect(manifest.files).toBe(first.files);
    expect(await readFile(join(root, 'README.txt'), 'utf8')).toContain('restic -r');
    for (const endpoint of ENDPOINTS) {
      const repository = join(root, 'data', 'endpoints', endpoint);
      // Plain restic objects: the at-rest layer is gone.
      expect(hasAtRestMagic(await readFile(join(repository, 'config')))).toBe(false);
      const restored = await restoreLocal(repository, join(work, 'restored', endpoint), backedUp.roots[endpoint] as string);
      expect(restored).toEqual(backedUp.trees[endpoint]);
    }
  });

  it('verify-export accepts it (exit 0)', async () => {
    const result = await cli(['verify-export', first.location]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ location: first.location, sha256: first.sha256, size: first.size, files: first.files, bytes: first.bytes });
  });

  it('gives byte-identical archives for the same export id and time, and keeps a finished one instead of writing it again', async () => {
    const again = exportLine(await cli(exportArgs(join(work, 'again'))));
    expect(again.sha256).toBe(first.sha256);
    expect(again.size).toBe(first.size);
    const facts = await readSpaceFacts(fixture.configDir);
    const before = (await readFile(first.location)).length;
    const reused = await exportSpace({ ...facts, dataDir: fixture.dataDir, tenant: 'acme', exportId: 'term-0001', organization: 'Example Hosting S.p.A.', createdAt: new Date(CREATED), target: { kind: 'directory', path: join(work, 'out') } });
    expect(reused).toMatchObject({ reused: true, sha256: first.sha256, size: before });
    const other = exportLine(await cli(exportArgs(join(work, 'other'), 'term-0002')));
    expect(other.sha256).not.toBe(first.sha256);
  });

  it('refuses a corrupted archive, naming the file whose digest fails', async () => {
    const dir = await mkdtemp(join(work, 'corrupt-'));
    const copy = join(dir, first.archive);
    await copyFile(first.location, copy);
    await copyFile(`${first.location}.sha256`, `${copy}.sha256`);
    // Flip one byte in the middle of the largest payload file (a data pack).
    const listing = (await run('tar', ['-tvf', copy])).stdout.split('\n').filter((line) => line.includes('/data/') && line.startsWith('-'));
    const largest = listing.map((line) => ({ size: Number(line.split(/\s+/)[2]), name: line.split(/\s+/).at(-1) as string })).sort((a, b) => b.size - a.size)[0];
    expect(largest).toBeDefined();
    const offset = (await readFile(copy)).indexOf(Buffer.from((largest?.name as string).slice(-64)), 0) + 2048;
    const handle = await open(copy, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ 0xff;
    await handle.write(byte, 0, 1, offset);
    await handle.close();

    const result = await cli(['verify-export', copy]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/archive sha256 [0-9a-f]{64} differs from acme_space-1_term-0001\.tar\.sha256/);
    expect(result.stderr).toContain(`${(largest?.name as string).replace(/^[^/]+\//, '')}: sha256`);
    expect(result.stderr).toContain('differs from manifest-sha256.txt');

    // With a matching .sha256 made up for the damaged copy, the bag's own manifest still refuses it.
    const sum = (await run('sha256sum', [copy])).stdout.split(' ')[0] as string;
    await writeFile(`${copy}.sha256`, `${sum}  ${first.archive}\n`);
    await expect(verifyExport(copy)).rejects.toThrow(/data\/endpoints\/.*: sha256 .* differs from manifest-sha256\.txt/);
  });

  it('refuses an archive without its .sha256 as not finished', async () => {
    const dir = await mkdtemp(join(work, 'unfinished-'));
    await copyFile(first.location, join(dir, first.archive));
    await expect(verifyExport(join(dir, first.archive))).rejects.toThrow(/\.sha256 is missing: the archive is not finished/);
  });
});
