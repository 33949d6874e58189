import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasAtRestMagic } from './at-rest.ts';
import { ObjectIndex } from './object-index.ts';
import { KeyUnavailableError, ObjectStore, SourceAbortedError, locate, type AtRestKeys } from './object-store.ts';
import { createLogger } from '../log/logger.ts';
import { GATEWAY_STATE_DIR, QuotaExceededError, SpaceQuota } from './quota.ts';
import { UploadChecker, UploadMismatchError } from './upload-guard.ts';
import type { FileRef } from './paths.ts';

const keys: AtRestKeys = { dataKey: randomBytes(32), spaceUid: 'space-uid' };
const log = createLogger({ name: 'test', level: 'silent' });
let dataDir: string;
let quotaDir: string;
let index: ObjectIndex;
let store: ObjectStore;
let quotas: SpaceQuota[];

/** A quota account of `limit` bytes (its ledger beside the data directory, to keep this test's listings to the repository). */
async function quotaOf(limit: number): Promise<SpaceQuota> {
  const quota = new SpaceQuota({ directory: quotaDir, limitBytes: () => limit, log });
  await quota.open();
  quotas.push(quota);
  return quota;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'object-store-'));
  quotaDir = await mkdtemp(join(tmpdir(), 'object-store-quota-'));
  index = new ObjectIndex();
  quotas = [];
  store = new ObjectStore(dataDir, index, await quotaOf(1e12));
});

afterEach(async () => {
  for (const quota of quotas) await quota.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(quotaDir, { recursive: true, force: true });
});

function dataRef(content: Buffer): FileRef {
  return { type: 'data', id: createHash('sha256').update(content).digest('hex') };
}

async function put(content: Buffer, options: { ref?: FileRef; quota?: number; declared?: number | null; encrypt?: boolean } = {}) {
  const ref = options.ref ?? dataRef(content);
  const ledger = await quotaOf(options.quota ?? 1e12);
  const reservation = (await ledger.reserve(0))!;
  const checker = new UploadChecker({ declaredLength: options.declared === undefined ? content.length : options.declared, reservation, expectedSha256: ref.type === 'config' ? null : ref.id });
  try {
    return await store.put('endpoints/a', ref, Readable.from([content.subarray(0, 1000), content.subarray(1000)]), checker, options.encrypt === false ? null : keys);
  } finally {
    await reservation.release();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe('ObjectStore', () => {
  it('stores encrypted objects and reads back any range of plaintext', async () => {
    const content = randomBytes(200_000);
    const ref = dataRef(content);
    const result = await put(content);
    expect(result.status).toBe('created');
    const onDisk = await readFile(join(store.repositoryDir('endpoints/a'), 'data', ref.type === 'data' ? ref.id.slice(0, 2) : '', ref.type === 'data' ? ref.id : ''));
    expect(hasAtRestMagic(onDisk)).toBe(true);
    expect(onDisk.includes(content.subarray(0, 64))).toBe(false);

    expect(await store.size('endpoints/a', ref)).toBe(content.length);
    const opened = (await store.open('endpoints/a', ref, keys))!;
    expect(opened.size).toBe(content.length);
    expect((await buffer(opened.read(65_000, 140_000))).equals(content.subarray(65_000, 140_001))).toBe(true);
    expect(await store.list('endpoints/a', 'data')).toEqual([{ name: ref.type === 'data' ? ref.id : '', size: content.length }]);
    expect(index.totalBytes).toBe(content.length);
  });

  it('refuses to read an encrypted object without the key', async () => {
    const content = randomBytes(5000);
    await put(content);
    await expect(store.open('endpoints/a', dataRef(content), null)).rejects.toBeInstanceOf(KeyUnavailableError);
  });

  it('stores plain objects when not encrypting and reads them too', async () => {
    const content = randomBytes(5000);
    await put(content, { encrypt: false });
    const opened = (await store.open('endpoints/a', dataRef(content), null))!;
    expect((await buffer(opened.read(0, 4999))).equals(content)).toBe(true);
  });

  it('leaves nothing behind when an upload exceeds the quota while streaming', async () => {
    const content = randomBytes(50_000);
    await expect(put(content, { quota: 20_000, declared: null })).rejects.toBeInstanceOf(QuotaExceededError);
    expect(await filesUnder(dataDir)).toEqual([]);
    expect(index.totalBytes).toBe(0);
  });

  it('leaves nothing behind when the content does not match its name or length', async () => {
    const content = randomBytes(5000);
    await expect(put(content, { ref: { type: 'data', id: 'ab'.repeat(32) } })).rejects.toBeInstanceOf(UploadMismatchError);
    await expect(put(content, { declared: 6000 })).rejects.toBeInstanceOf(UploadMismatchError);
    expect(await filesUnder(dataDir)).toEqual([]);
  });

  it('leaves nothing behind when the client goes away mid-upload', async () => {
    const content = randomBytes(300_000);
    const ledger = await quotaOf(1e12);
    const checker = new UploadChecker({ declaredLength: content.length, reservation: (await ledger.reserve(content.length))!, expectedSha256: null });
    const body = new Readable({ read() {} });
    body.push(content.subarray(0, 100_000));
    setTimeout(() => body.destroy(), 20);
    await expect(store.put('endpoints/a', { type: 'config' }, body, checker, keys)).rejects.toBeInstanceOf(SourceAbortedError);
    expect(await filesUnder(dataDir)).toEqual([]);
  });

  it('never replaces an existing object', async () => {
    const content = randomBytes(3000);
    expect((await put(content)).status).toBe('created');
    expect((await put(content)).status).toBe('exists');
    expect(index.totalBytes).toBe(3000);
  });

  it('deletes objects and keeps the usage counter right', async () => {
    const content = randomBytes(3000);
    await put(content);
    expect(await store.remove('endpoints/a', dataRef(content))).toBe(true);
    expect(await store.remove('endpoints/a', dataRef(content))).toBe(false);
    expect(index.totalBytes).toBe(0);
  });

  it('scans the data directory into plaintext sizes, skipping its own directory, and removes abandoned temporaries only', async () => {
    const a = randomBytes(70_000);
    await put(a);
    await put(Buffer.from('config-bytes'), { ref: { type: 'config' } });
    const keysDir = join(store.repositoryDir('endpoints/a'), 'keys');
    await mkdir(keysDir, { recursive: true });
    const abandoned = join(keysDir, `.${'cd'.repeat(32)}.tmp-0123456789abcdef`);
    const inFlight = `.${'ce'.repeat(32)}.tmp-0123456789abcdef`;
    await writeFile(abandoned, 'partial upload');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(abandoned, hourAgo, hourAgo);
    // Another replica's upload in progress on the shared volume: young, left alone.
    await writeFile(join(keysDir, inFlight), 'upload in progress');
    await writeFile(join(dataDir, 'stray.txt'), '12345');
    await mkdir(join(dataDir, GATEWAY_STATE_DIR));
    await writeFile(join(dataDir, GATEWAY_STATE_DIR, 'quota.json'), ' '.repeat(65_536));
    const scanned = await store.scan({ removeTemporaryOlderThanMs: 15 * 60_000 });
    expect(scanned.removedTemporary).toBe(1);
    expect(scanned.strayBytes).toBe(5);
    expect(scanned.objects.map((o) => [o.repository, o.ref.type, o.info.size]).sort()).toEqual([
      ['endpoints/a', 'config', 12],
      ['endpoints/a', 'data', 70_000],
    ]);
    expect(await readdir(keysDir)).toEqual([inFlight]);
    expect((await store.scan({ removeTemporaryOlderThanMs: null })).removedTemporary).toBe(0);
  });
});

describe('locate', () => {
  const id = 'ef'.repeat(32);
  it('finds the repository and file from the layout', () => {
    expect(locate('endpoints/a/config')).toEqual({ repository: 'endpoints/a', ref: { type: 'config' } });
    expect(locate(`endpoints/a/data/ef/${id}`)).toEqual({ repository: 'endpoints/a', ref: { type: 'data', id } });
    expect(locate(`x/keys/${id}`)).toEqual({ repository: 'x', ref: { type: 'keys', id } });
    expect(locate(`x/data/00/${id}`)).toBeNull();
    expect(locate('config')).toBeNull();
    expect(locate(`x/other/${id}`)).toBeNull();
  });
});
