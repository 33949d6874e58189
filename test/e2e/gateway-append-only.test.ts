/**
 * Append-only spaces (ransomware protection): an endpoint can add backups — restic still removes its
 * own lock files — but cannot delete or overwrite anything, so `restic forget --prune` with the
 * endpoint's credentials fails and leaves the repository intact; the separately authorised
 * maintenance credential can forget and prune.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayFixture, expectSuccess, restic } from './gateway-fixture.ts';

const ENDPOINT = 'nas-03';

let fixture: GatewayFixture;
let work: string;

beforeAll(async () => {
  fixture = await GatewayFixture.start({ endpoints: [{ name: ENDPOINT }], appendOnly: true, encryptAtRest: true });
  work = await mkdtemp(join(tmpdir(), 'gateway-append-only-'));
});

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const snapshotCount = async (url: string): Promise<number> =>
  (JSON.parse(expectSuccess(await restic(fixture, url, ['snapshots', '--json']), 'snapshots').stdout) as unknown[]).length;

describe('append-only space', () => {
  it('lets the endpoint back up repeatedly, removing its own locks', async () => {
    const url = fixture.repositoryUrl(ENDPOINT);
    expectSuccess(await restic(fixture, url, ['init']), 'init');
    for (let i = 0; i < 2; i++) {
      await writeFile(join(work, `file-${i}.bin`), randomBytes(200_000));
      expectSuccess(await restic(fixture, url, ['backup', work]), `backup ${i}`);
    }
    expect(await snapshotCount(url)).toBe(2);
    const locks = await fixture.fetch(`/${ENDPOINT}/locks/`, { headers: fixture.endpointAuth(ENDPOINT) });
    expect(JSON.parse(locks.text)).toEqual([]);
  });

  it('refuses `restic forget --prune` by the endpoint and keeps every snapshot', async () => {
    const url = fixture.repositoryUrl(ENDPOINT);
    const result = await restic(fixture, url, ['forget', '--keep-last', '1', '--prune']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/403/);
    expect(await snapshotCount(url)).toBe(2);
    expectSuccess(await restic(fixture, url, ['check']), 'check after refused forget');
  }, 180_000);

  it('refuses deleting and overwriting objects over the REST API', async () => {
    const auth = fixture.endpointAuth(ENDPOINT);
    const snapshots = JSON.parse((await fixture.fetch(`/${ENDPOINT}/snapshots/`, { headers: auth })).text) as string[];
    const id = snapshots[0]!;
    expect((await fixture.fetch(`/${ENDPOINT}/snapshots/${id}`, { method: 'DELETE', headers: auth })).status).toBe(403);
    expect((await fixture.fetch(`/${ENDPOINT}/config`, { method: 'DELETE', headers: auth })).status).toBe(403);
    const existing = await fixture.fetch(`/${ENDPOINT}/snapshots/${id}`, { headers: auth });
    expect((await fixture.fetch(`/${ENDPOINT}/snapshots/${id}`, { method: 'POST', headers: auth, body: existing.body })).status).toBe(403);
    expect((await fixture.fetch(`/${ENDPOINT}/config`, { method: 'POST', headers: auth, body: 'replacement' })).status).toBe(403);
    // A lock is the one thing an endpoint may delete.
    const lock = Buffer.from('{"time":"2026-01-01T00:00:00Z"}');
    const lockId = createHash('sha256').update(lock).digest('hex');
    expect((await fixture.fetch(`/${ENDPOINT}/locks/${lockId}`, { method: 'POST', headers: auth, body: lock })).status).toBe(200);
    expect((await fixture.fetch(`/${ENDPOINT}/locks/${lockId}`, { method: 'DELETE', headers: auth })).status).toBe(200);
  });

  it('lets the maintenance credential forget and prune', async () => {
    const maintenance = fixture.repositoryUrl(ENDPOINT, fixture.secrets.maintenance.username, fixture.secrets.maintenance.secret);
    expectSuccess(await restic(fixture, maintenance, ['forget', '--keep-last', '1', '--prune']), 'forget --prune as maintenance');
    expect(await snapshotCount(fixture.repositoryUrl(ENDPOINT))).toBe(1);
    expectSuccess(await restic(fixture, fixture.repositoryUrl(ENDPOINT), ['check', '--read-data']), 'check after prune');
    // Wrong maintenance secret: refused.
    const wrong = fixture.repositoryUrl(ENDPOINT, fixture.secrets.maintenance.username, 'wrong');
    expect((await restic(fixture, wrong, ['snapshots'])).code).not.toBe(0);
  });
});
