/**
 * One quota account per space (issue 12 item 6): two real gateway processes on one config dir and
 * ONE data dir, as a space's replicas share its config Secret and its RWX volume. Each replica has
 * its own index; before the shared ledger each also had its own quota account, so two replicas
 * admitted twice the quota. Here concurrent uploads through both stop at the quota in total — the
 * over-quota ones get 507 — deletes through one free the space for the other, and the real restic
 * client backing up through both at once never takes the space past its quota, after which
 * `restic check` passes and, once space is freed, the refused backup succeeds through the other
 * replica. At-rest encryption is off, so the bytes on disk are the plaintext the quota counts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '../../src/crypto/index.ts';
import { closeReplicas, expectSuccess, listFiles, restic, startReplicas, storedFiles, type GatewayFixture } from './gateway-fixture.ts';

const MiB = 1024 * 1024;
const A = 'laptop-01';
const B = 'laptop-02';

/** Bytes of every file under the data directory but the gateway's own (uploads in progress included). */
async function bytesOnDisk(dataDir: string, options: { temporaries?: boolean } = {}): Promise<number> {
  const files = options.temporaries === true ? (await listFiles(dataDir)).filter((path) => !path.includes('/.tenant-backup/')) : await storedFiles(dataDir);
  let total = 0;
  for (const path of files) {
    if (options.temporaries !== true && /\/\.[^/]*\.tmp-[0-9a-f]{16}$/.test(path)) continue;
    total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

function upload(replica: GatewayFixture, endpoint: string, body: Buffer): Promise<number> {
  const id = createHash('sha256').update(body).digest('hex');
  return replica.fetch(`/${endpoint}/data/${id}`, { method: 'POST', headers: replica.endpointAuth(endpoint), body }).then((r) => r.status);
}

/** Streams `body` with chunked transfer encoding (no Content-Length); resolves the status, or 'reset'. */
async function chunkedUpload(replica: GatewayFixture, endpoint: string, body: Buffer): Promise<number | 'reset'> {
  const ca = await readFile(replica.caCert);
  const id = createHash('sha256').update(body).digest('hex');
  return new Promise((done) => {
    const req = request(`${replica.baseUrl()}/${endpoint}/data/${id}`, { method: 'POST', headers: { ...replica.endpointAuth(endpoint), 'Transfer-Encoding': 'chunked' }, ca }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', () => done('reset'));
    let sent = 0;
    const pump = (): void => {
      while (sent < body.length) {
        const piece = body.subarray(sent, sent + 64 * 1024);
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function usedBytesOf(replica: GatewayFixture): Promise<number> {
  return (await replica.report()).space.usedBytes;
}

describe('two gateway replicas over one data directory share one quota account', () => {
  const QUOTA = 4 * MiB;
  const replicas: GatewayFixture[] = [];

  beforeAll(async () => {
    replicas.push(...(await startReplicas(2, { endpoints: [{ name: A }, { name: B }], quotaBytes: QUOTA, encryptAtRest: false, scrypt: TEST_SCRYPT_PARAMS })));
  });

  afterAll(async () => {
    await closeReplicas(replicas);
  });

  it('admits concurrent uploads through both replicas up to the quota in total and no further: the rest get 507', async () => {
    const [first, second] = replicas as [GatewayFixture, GatewayFixture];
    // Twelve 1 MiB uploads at once, six through each replica (each alone would admit four).
    const bodies = Array.from({ length: 12 }, () => randomBytes(MiB));
    const statuses = await Promise.all(bodies.map((body, i) => upload(i % 2 === 0 ? first : second, i % 4 < 2 ? A : B, body)));
    expect(statuses.filter((status) => status === 200)).toHaveLength(4);
    expect(statuses.filter((status) => status === 507)).toHaveLength(8);
    expect(await bytesOnDisk(first.dataDir, { temporaries: true })).toBe(QUOTA);
    // Both replicas report the space's one figure, not their own share of it.
    expect(await usedBytesOf(first)).toBe(QUOTA);
    expect(await usedBytesOf(second)).toBe(QUOTA);
    const refusals = (await first.report()).counters.quotaRefusals + (await second.report()).counters.quotaRefusals;
    expect(refusals).toBe(8);
  });

  it('frees the space for every replica when objects are deleted through one', async () => {
    const [first, second] = replicas as [GatewayFixture, GatewayFixture];
    const stored = (await storedFiles(first.dataDir)).slice(0, 2);
    expect(stored).toHaveLength(2);
    for (const path of stored) {
      const [, endpoint, , , id] = path.slice(first.dataDir.length + 1).split('/') as [string, string, string, string, string];
      expect((await second.fetch(`/${endpoint}/data/${id}`, { method: 'DELETE', headers: second.endpointAuth(endpoint) })).status).toBe(200);
    }
    expect(await usedBytesOf(first)).toBe(QUOTA - 2 * MiB);
    const statuses = await Promise.all(Array.from({ length: 3 }, () => upload(first, A, randomBytes(MiB))));
    expect(statuses.filter((status) => status === 200)).toHaveLength(2);
    expect(statuses.filter((status) => status === 507)).toHaveLength(1);
    expect(await usedBytesOf(second)).toBe(QUOTA);
  });

  it('cuts streamed uploads (no Content-Length) off at the quota in total, through both replicas', async () => {
    const [first, second] = replicas as [GatewayFixture, GatewayFixture];
    for (const path of await storedFiles(first.dataDir)) {
      const [, endpoint, , , id] = path.slice(first.dataDir.length + 1).split('/') as [string, string, string, string, string];
      expect((await first.fetch(`/${endpoint}/data/${id}`, { method: 'DELETE', headers: first.endpointAuth(endpoint) })).status).toBe(200);
    }
    expect(await usedBytesOf(second)).toBe(0);
    // 3 MiB each: one fits, two do not — whichever replica each goes through.
    const statuses = await Promise.all([chunkedUpload(first, A, randomBytes(3 * MiB)), chunkedUpload(second, B, randomBytes(3 * MiB))]);
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(1);
    expect(statuses).toContain(507);
    expect(await bytesOnDisk(first.dataDir, { temporaries: true })).toBeLessThanOrEqual(QUOTA);
    expect(await usedBytesOf(first)).toBe(await bytesOnDisk(first.dataDir));
  });
});

describe('restic backing up through both replicas at once', () => {
  const QUOTA = 8 * MiB;
  const replicas: GatewayFixture[] = [];
  let work: string;

  beforeAll(async () => {
    replicas.push(...(await startReplicas(2, { endpoints: [{ name: A }, { name: B }], quotaBytes: QUOTA, encryptAtRest: false, scrypt: TEST_SCRYPT_PARAMS })));
    work = await mkdtemp(join(tmpdir(), 'gateway-shared-quota-'));
  });

  afterAll(async () => {
    await closeReplicas(replicas);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('never takes the space past its quota; check passes; once space is freed the refused backup succeeds through the other replica', async () => {
    const [first, second] = replicas as [GatewayFixture, GatewayFixture];
    const through = (endpoint: string): GatewayFixture => (endpoint === A ? first : second);
    for (const endpoint of [A, B]) {
      expectSuccess(await restic(through(endpoint), through(endpoint).repositoryUrl(endpoint), ['init']), `init ${endpoint}`);
      await mkdir(join(work, endpoint), { recursive: true });
      // 5 MiB each: one fits in 8 MiB, both do not.
      await writeFile(join(work, endpoint, 'data.bin'), randomBytes(5 * MiB));
    }
    // Watch the disk while both back up: uploads in progress count too.
    let peak = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        peak = Math.max(peak, await bytesOnDisk(first.dataDir, { temporaries: true }));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const results = await Promise.all([A, B].map((endpoint) => restic(through(endpoint), through(endpoint).repositoryUrl(endpoint), ['backup', join(work, endpoint)])));
    watching = false;
    await watcher;
    const failed = [A, B].filter((_, i) => results[i]?.code !== 0);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const endpoint of failed) expect(results[[A, B].indexOf(endpoint)]?.stderr).toMatch(/507/);
    expect(peak).toBeLessThanOrEqual(QUOTA);
    expect(await bytesOnDisk(first.dataDir)).toBeLessThanOrEqual(QUOTA);
    expect(await usedBytesOf(first)).toBe(await bytesOnDisk(first.dataDir));
    expect(await usedBytesOf(second)).toBe(await bytesOnDisk(first.dataDir));
    for (const endpoint of [A, B]) {
      // Through the replica the endpoint did not back up through.
      const other = through(endpoint) === first ? second : first;
      const check = expectSuccess(await restic(other, other.repositoryUrl(endpoint), ['check', '--read-data']), `check ${endpoint}`);
      expect(check.stdout).toContain('no errors were found');
    }

    // Free the space: forget and prune what the other endpoint stored, then the refused backup goes
    // through the replica it did not use before.
    const refused = failed[0] as string;
    const kept = refused === A ? B : A;
    const keptSnapshots = JSON.parse(expectSuccess(await restic(first, first.repositoryUrl(kept), ['snapshots', '--json']), 'snapshots').stdout) as { id: string }[];
    if (keptSnapshots.length > 0) expectSuccess(await restic(first, first.repositoryUrl(kept), ['forget', ...keptSnapshots.map((s) => s.id)]), 'forget');
    expectSuccess(await restic(first, first.repositoryUrl(kept), ['prune']), 'prune');
    const retryThrough = through(refused) === first ? second : first;
    expectSuccess(await restic(retryThrough, retryThrough.repositoryUrl(refused), ['backup', join(work, refused)]), `backup of ${refused} after space was freed`);
    const check = expectSuccess(await restic(first, first.repositoryUrl(refused), ['check', '--read-data']), `check ${refused} after the retry`);
    expect(check.stdout).toContain('no errors were found');
    expect(await bytesOnDisk(first.dataDir)).toBeLessThanOrEqual(QUOTA);
    expect(await usedBytesOf(second)).toBe(await bytesOnDisk(first.dataDir));
  }, 400_000);
});
