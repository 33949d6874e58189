/**
 * The gateway with the real restic client over real TLS: a full backup cycle, byte-identical restore,
 * proof that what lies on disk is encrypted by the gateway (not only by restic), usage that survives
 * a restart, and the reports the operator reads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES, createDecryptStream, hasAtRestMagic, parseHeader, planRange, plaintextSize } from '../../src/gateway/at-rest.ts';
import { GatewayFixture, expectSuccess, generateTree, hashTree, listFiles, restic, run } from './gateway-fixture.ts';

const MARKER = 'PLAINTEXT-MARKER-7f3a9c';
const ENDPOINT = 'laptop-01';

let fixture: GatewayFixture;
let work: string;

beforeAll(async () => {
  fixture = await GatewayFixture.start({ endpoints: [{ name: ENDPOINT }, { name: 'server-02' }], encryptAtRest: true });
  work = await mkdtemp(join(tmpdir(), 'gateway-restic-'));
});

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** Decrypts a file from the gateway's data directory with the space's data key. */
async function decryptStored(path: string): Promise<Buffer> {
  const file = await readFile(path);
  const header = parseHeader(file);
  const size = plaintextSize(file.length, header.chunkBytes);
  if (size === null) throw new Error(`${path} has an impossible size`);
  const repositoryRelative = relative(join(fixture.dataDir, 'endpoints', ENDPOINT), path).split('/');
  const objectName = repositoryRelative[0] === 'config' ? 'config' : `${repositoryRelative[0]}/${basename(path)}`;
  const plan = planRange(header, file.length, 0, Math.max(0, size - 1));
  const decrypt = createDecryptStream({ dataKey: fixture.secrets.dataKey, spaceUid: fixture.access.space.uid, objectName }, header, plan);
  const parts: Buffer[] = [];
  decrypt.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise<void>((ok, fail) => {
    decrypt.once('end', ok);
    decrypt.once('error', fail);
  });
  decrypt.end(file.subarray(plan.fileStart, plan.fileEnd + 1));
  await done;
  return Buffer.concat(parts);
}

describe('restic through the gateway (TLS, at-rest encryption)', () => {
  const source = (): string => join(work, 'source');
  let sourceHashes: Record<string, string>;

  it('initialises a repository, backs up a tree, lists snapshots and checks all data', async () => {
    await generateTree(source(), { randomBytes: 4 * 1024 * 1024, marker: MARKER });
    sourceHashes = await hashTree(source());
    const url = fixture.repositoryUrl(ENDPOINT);
    expectSuccess(await restic(fixture, url, ['init']), 'restic init');
    expectSuccess(await restic(fixture, url, ['backup', '--host', 'e2e', source()]), 'restic backup');
    const snapshots = JSON.parse(expectSuccess(await restic(fixture, url, ['snapshots', '--json']), 'restic snapshots').stdout) as { paths: string[] }[];
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]?.paths).toEqual([source()]);
    const check = expectSuccess(await restic(fixture, url, ['check', '--read-data']), 'restic check --read-data');
    expect(check.stdout).toContain('no errors were found');
  });

  it('restores a byte-identical tree', async () => {
    const target = join(work, 'restored');
    expectSuccess(await restic(fixture, fixture.repositoryUrl(ENDPOINT), ['restore', 'latest', '--target', target]), 'restic restore');
    const restored = await hashTree(join(target, source()));
    expect(Object.keys(restored).length).toBeGreaterThanOrEqual(12);
    expect(restored).toEqual(sourceHashes);
  });

  it('stores only gateway-encrypted files: no marker, not restic’s bytes, and they decrypt with the data key', async () => {
    const files = await listFiles(join(fixture.dataDir, 'endpoints', ENDPOINT));
    expect(files.length).toBeGreaterThan(5);
    for (const path of files) {
      const stored = await readFile(path);
      expect(stored.includes(MARKER), `${path} contains the plaintext marker`).toBe(false);
      expect(hasAtRestMagic(stored), `${path} is not in the at-rest format`).toBe(true);
      const plaintext = await decryptStored(path);
      if (basename(path) === 'config') continue;
      // restic names every file by the SHA-256 of what it wrote: the decrypted bytes match the name,
      // the bytes on disk do not.
      expect(createHash('sha256').update(plaintext).digest('hex')).toBe(basename(path));
      expect(createHash('sha256').update(stored).digest('hex')).not.toBe(basename(path));
    }
    // The config restic wrote (as the gateway serves it back) is not what lies on disk.
    const auth = fixture.endpointAuth(ENDPOINT);
    const served = await fixture.fetch(`/${ENDPOINT}/config`, { headers: auth });
    expect(served.status).toBe(200);
    const configPath = join(fixture.dataDir, 'endpoints', ENDPOINT, 'config');
    const onDisk = await readFile(configPath);
    expect(served.body.length).toBeGreaterThan(0);
    expect(onDisk.includes(served.body)).toBe(false);
    expect((await decryptStored(configPath)).equals(served.body)).toBe(true);
  });

  it('serves byte ranges of objects (206) and HEAD sizes as plaintext sizes', async () => {
    const auth = fixture.endpointAuth(ENDPOINT);
    const listing = await fixture.fetch(`/${ENDPOINT}/data/`, { headers: { ...auth, Accept: 'application/vnd.x.restic.rest.v2' } });
    expect(listing.headers['content-type']).toBe('application/vnd.x.restic.rest.v2');
    const packs = JSON.parse(listing.text) as { name: string; size: number }[];
    const pack = packs.sort((a, b) => b.size - a.size)[0]!;
    const head = await fixture.fetch(`/${ENDPOINT}/data/${pack.name}`, { method: 'HEAD', headers: auth });
    expect(Number(head.headers['content-length'])).toBe(pack.size);
    // Across two at-rest chunk boundaries.
    const first = DEFAULT_CHUNK_BYTES - 6;
    const last = 2 * DEFAULT_CHUNK_BYTES + 9;
    expect(pack.size).toBeGreaterThan(last);
    const partial = await fixture.fetch(`/${ENDPOINT}/data/${pack.name}`, { headers: { ...auth, Range: `bytes=${first}-${last}` } });
    expect(partial.status).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes ${first}-${last}/${pack.size}`);
    expect(Number(partial.headers['content-length'])).toBe(last - first + 1);
    const whole = await fixture.fetch(`/${ENDPOINT}/data/${pack.name}`, { headers: auth });
    expect(whole.body.length).toBe(pack.size);
    expect(partial.body.equals(whole.body.subarray(first, last + 1))).toBe(true);
    expect(createHash('sha256').update(whole.body).digest('hex')).toBe(pack.name);
    const v1 = await fixture.fetch(`/${ENDPOINT}/data/`, { headers: auth });
    expect((JSON.parse(v1.text) as string[]).sort()).toEqual(packs.map((p) => p.name).sort());
    expect((await fixture.fetch(`/${ENDPOINT}/data/${'0'.repeat(64)}`, { method: 'HEAD', headers: auth })).status).toBe(404);
  });

  it('reports usage, objects by type and kind, and the last backup; the figures survive a restart', async () => {
    // A second, incremental backup with one new file.
    await writeFile(join(source(), 'd', 'added.bin'), randomBytes(300_000));
    expectSuccess(await restic(fixture, fixture.repositoryUrl(ENDPOINT), ['backup', '--host', 'e2e', source()]), 'second backup');
    const report = await fixture.report();
    const endpoint = report.endpoints.find((e) => e.name === ENDPOINT)!;
    expect(endpoint.initialized).toBe(true);
    expect(endpoint.snapshots).toBe(2);
    expect(endpoint.byType.snapshots.objects).toBe(2);
    expect(endpoint.byType.data.objects).toBeGreaterThanOrEqual(2);
    expect(endpoint.byType.keys.objects).toBe(1);
    expect(endpoint.byType.locks.objects).toBe(0);
    expect(endpoint.byKind.full.bytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(endpoint.byKind.incremental.bytes).toBeGreaterThan(300_000);
    expect(endpoint.byKind.metadata.objects).toBe(endpoint.objects - endpoint.byType.data.objects);
    expect(Date.now() - Date.parse(endpoint.lastBackupAt!)).toBeLessThan(120_000);
    // The backup client as its User-Agent names it (S3); restic before 0.17 sends Go's default.
    expect(endpoint.agent).toMatch(/^(restic|Go-http-client)\/\d/);
    expect(report.space.usedBytes).toBe(endpoint.bytesStored);
    expect(report.endpoints.find((e) => e.name === 'server-02')).toMatchObject({ initialized: false, bytesStored: 0, lastBackupAt: null, agent: null });
    expect(report.gateway.dataKeyState).toBe('ready');

    const metrics = await fixture.metrics();
    expect(metrics).toContain(`tenant_backup_gateway_space_used_bytes ${report.space.usedBytes}`);
    expect(metrics).toMatch(new RegExp(`tenant_backup_gateway_stored_objects\\{endpoint="${ENDPOINT}",type="snapshots"\\} 2`));
    expect(metrics).toMatch(new RegExp(`tenant_backup_gateway_last_backup_timestamp_seconds\\{endpoint="${ENDPOINT}"\\} \\d+`));
    expect(metrics).toMatch(/tenant_backup_gateway_requests_total\{route="object",method="POST",code="200"\} \d+/);

    expect((await fixture.fetch('/v1/report')).status).toBe(401);
    expect((await fixture.fetch('/v1/report', { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    // /metrics names every endpoint (a device list): the same token is required.
    expect((await fixture.fetch('/metrics')).status).toBe(401);
    expect((await fixture.fetch('/metrics', { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fixture.fetch('/metrics', { headers: fixture.endpointAuth(ENDPOINT) })).status).toBe(401);

    expect(await fixture.stopProcess()).toBe(0);
    await fixture.startProcess();
    const after = await fixture.report();
    expect(after.space.usedBytes).toBe(report.space.usedBytes);
    expect(after.endpoints.find((e) => e.name === ENDPOINT)).toMatchObject({ objects: endpoint.objects, bytesStored: endpoint.bytesStored, lastBackupAt: endpoint.lastBackupAt });
  });

  it('forgets and prunes (not append-only), and the repository stays consistent', async () => {
    const url = fixture.repositoryUrl(ENDPOINT);
    expectSuccess(await restic(fixture, url, ['forget', '--keep-last', '1', '--prune']), 'restic forget --prune');
    const snapshots = JSON.parse(expectSuccess(await restic(fixture, url, ['snapshots', '--json']), 'snapshots').stdout) as unknown[];
    expect(snapshots).toHaveLength(1);
    expectSuccess(await restic(fixture, url, ['check', '--read-data']), 'check after prune');
    const report = await fixture.report();
    expect(report.endpoints.find((e) => e.name === ENDPOINT)?.snapshots).toBe(1);
    expect(report.space.usedBytes).toBe(report.endpoints.reduce((sum, e) => sum + e.bytesStored, 0));
  });

  it('is registered as the `gateway` subcommand of the image entry point', async () => {
    const help = await run(process.execPath, [resolve(import.meta.dirname, '../../src/cli/main.ts'), 'gateway', '--help']);
    expect(help.stdout + help.stderr).toContain('--config-dir <dir>');
  });
});
