/**
 * The space quota: a backup that would go past it fails cleanly with 507, nothing partial becomes
 * visible, the repository still passes `restic check`, and the usage counter is right across a
 * restart. Runs with at-rest encryption off, which also shows the plain layout: there the bytes on
 * disk are exactly restic's (their SHA-256 is their name) — the control for the encryption test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayFixture, expectSuccess, listFiles, restic, storedFiles } from './gateway-fixture.ts';

const ENDPOINT = 'vm-07';
const QUOTA = 6 * 1024 * 1024;

let fixture: GatewayFixture;
let work: string;

beforeAll(async () => {
  fixture = await GatewayFixture.start({ endpoints: [{ name: ENDPOINT }, { name: 'other' }], quotaBytes: QUOTA, encryptAtRest: false });
  work = await mkdtemp(join(tmpdir(), 'gateway-quota-'));
});

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function usedBytes(): Promise<number> {
  return (await fixture.report()).space.usedBytes;
}

async function repositoryFiles(): Promise<string[]> {
  return (await storedFiles(fixture.dataDir)).sort();
}

/** Streams `total` bytes with chunked transfer encoding (no Content-Length); resolves the status, if any. */
async function chunkedUpload(path: string, total: number): Promise<number | 'reset'> {
  const ca = await readFile(fixture.caCert);
  const auth = fixture.endpointAuth(ENDPOINT);
  return new Promise((done) => {
    const req = request(`${fixture.baseUrl()}${path}`, { method: 'POST', headers: { ...auth, 'Transfer-Encoding': 'chunked' }, ca }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', () => done('reset'));
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += 64 * 1024;
        if (!req.write(randomBytes(64 * 1024))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

describe('space quota', () => {
  it('backs up within the quota; in plain mode the stored bytes are restic’s own', async () => {
    const url = fixture.repositoryUrl(ENDPOINT);
    expectSuccess(await restic(fixture, url, ['init']), 'init');
    await mkdir(join(work, 'small'), { recursive: true });
    await writeFile(join(work, 'small', 'a.bin'), randomBytes(1024 * 1024));
    expectSuccess(await restic(fixture, url, ['backup', join(work, 'small')]), 'first backup');
    for (const path of await listFiles(join(fixture.dataDir, 'endpoints', ENDPOINT))) {
      if (basename(path) === 'config') continue;
      expect(createHash('sha256').update(await readFile(path)).digest('hex')).toBe(basename(path));
    }
  });

  it('refuses an upload whose Content-Length does not fit with 507 before storing anything', async () => {
    const before = await repositoryFiles();
    const body = randomBytes(QUOTA);
    const id = createHash('sha256').update(body).digest('hex');
    const auth = fixture.endpointAuth(ENDPOINT);
    const response = await fixture.fetch(`/${ENDPOINT}/data/${id}`, { method: 'POST', headers: auth, body });
    expect(response.status).toBe(507);
    expect(await repositoryFiles()).toEqual(before);
    // The other endpoint shares the space and its quota.
    const other = fixture.endpointAuth('other');
    expect((await fixture.fetch(`/other/data/${id}`, { method: 'POST', headers: other, body })).status).toBe(507);
  });

  it('cuts off a streamed upload of unknown length as soon as it exceeds the quota, leaving nothing', async () => {
    const before = await repositoryFiles();
    const used = await usedBytes();
    const status = await chunkedUpload(`/${ENDPOINT}/data/${'ab'.repeat(32)}`, QUOTA + 1024 * 1024);
    expect(status).toBe(507);
    expect(await repositoryFiles()).toEqual(before);
    expect(await usedBytes()).toBe(used);
  });

  it('fails a backup that would exceed the quota cleanly, and the repository still checks out', async () => {
    await mkdir(join(work, 'big'), { recursive: true });
    await writeFile(join(work, 'big', 'b.bin'), randomBytes(8 * 1024 * 1024));
    const url = fixture.repositoryUrl(ENDPOINT);
    const failed = await restic(fixture, url, ['backup', join(work, 'big')]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/507/);
    expect(await usedBytes()).toBeLessThanOrEqual(QUOTA);
    // No temporary or partial files are visible, and the space still takes locks (check needs one).
    expect((await repositoryFiles()).filter((p) => basename(p).startsWith('.'))).toEqual([]);
    const check = expectSuccess(await restic(fixture, url, ['check', '--read-data']), 'check after refused backup');
    expect(check.stdout).toContain('no errors were found');
    const snapshots = JSON.parse(expectSuccess(await restic(fixture, url, ['snapshots', '--json']), 'snapshots').stdout) as unknown[];
    expect(snapshots).toHaveLength(1);
    const report = await fixture.report();
    expect(report.endpoints.find((e) => e.name === ENDPOINT)?.quotaRefusals).toBeGreaterThan(0);
    expect(await fixture.metrics()).toMatch(new RegExp(`tenant_backup_gateway_quota_refusals_total\\{endpoint="${ENDPOINT}"\\} [1-9]`));
  }, 240_000);

  it('keeps the usage counter right across a restart', async () => {
    const before = await usedBytes();
    expect(await fixture.stopProcess()).toBe(0);
    await fixture.startProcess();
    expect(await usedBytes()).toBe(before);
  });
});
