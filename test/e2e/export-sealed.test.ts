/**
 * Export of a sealed customer-custody space: the export has no key, so the objects go into the bag
 * as stored (still encrypted) with the wrapped key record; `tenant-backup open-export` opens it
 * offline with the customer's password alone, and plain restic restores identical trees from what it
 * writes. A wrong password opens nothing.
 */
import { readFile, mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '../../src/crypto/index.ts';
import { hasAtRestMagic } from '../../src/gateway/at-rest.ts';
import { GatewayFixture } from './gateway-fixture.ts';
import { backUpEndpoints, checkWithOrdinaryTools, cli, exportLine, requireExportTools, restoreLocal, type BackedUp, type ExportLine } from './export-fixture.ts';

const ENDPOINTS = ['vm-07'];

let fixture: GatewayFixture;
let work: string;
let backedUp: BackedUp;
let exported: ExportLine;

beforeAll(async () => {
  await requireExportTools();
  fixture = await GatewayFixture.start({
    endpoints: ENDPOINTS.map((name) => ({ name })),
    custody: 'customer',
    encryptAtRest: true,
    humansPolicy: 'one-factor',
    users: [{ name: 'alice', role: 'admin' }],
    scrypt: TEST_SCRYPT_PARAMS,
  });
  const token = await fixture.signIn('alice');
  const unseal = await fixture.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password: fixture.secrets.customerPassword }) });
  expect(unseal.status).toBe(200);
  work = await mkdtemp(join(tmpdir(), 'export-sealed-'));
  backedUp = await backUpEndpoints(fixture, ENDPOINTS, work);
  // The export runs after termination sealed the space: the gateway no longer holds the key.
  await fixture.stopProcess();
}, 300_000);

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('export of a sealed customer-custody space', () => {
  it('exports the objects as stored, with the wrapped key record and no key', async () => {
    const out = join(work, 'out');
    exported = exportLine(await cli(['export', '--data-dir', fixture.dataDir, '--config-dir', fixture.configDir, '--tenant', 'acme', '--export-id', 'term-sealed', '--organization', 'Example Hosting S.p.A.', '--created', '2026-12-01T10:00:00Z', '--target-dir', out]));
    const root = await checkWithOrdinaryTools(out, exported.archive);
    const config = await readFile(join(root, 'data/endpoints/vm-07/config'));
    expect(hasAtRestMagic(config)).toBe(true);
    const key = JSON.parse(await readFile(join(root, 'customer-key.json'), 'utf8')) as { spaceUid: string; keyId: string; record: { kdf: { name: string; salt: string }; verifier: string; wrappedKey: string } };
    expect(key.spaceUid).toBe(fixture.access.space.uid);
    expect(key.record.kdf.name).toBe('scrypt');
    expect(key.record.verifier).toMatch(/^[A-Za-z0-9+/=]+$/);
    const text = await readFile(join(root, 'customer-key.json'), 'utf8');
    expect(text).not.toContain(fixture.secrets.customerPassword);
    expect(text).not.toContain(fixture.secrets.dataKey.toString('base64'));
    expect(JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'))).toMatchObject({ custody: 'customer-sealed' });
    expect(await readFile(join(root, 'README.txt'), 'utf8')).toContain('tenant-backup open-export');
    expect((await cli(['verify-export', exported.location])).code).toBe(0);
  });

  it('open-export refuses a wrong password and writes nothing readable', async () => {
    const passwordFile = join(work, 'wrong.txt');
    await writeFile(passwordFile, 'not the customer password\n');
    const out = join(work, 'opened-wrong');
    const result = await cli(['open-export', exported.location, '--password-file', passwordFile, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('wrong customer key password');
    const written = await readdir(out, { recursive: true }).catch(() => []);
    expect(written.filter((name) => name.endsWith('config'))).toEqual([]);
  });

  it('open-export with the password alone gives plain repositories that restic restores to identical trees', async () => {
    const passwordFile = join(work, 'password.txt');
    await writeFile(passwordFile, `${fixture.secrets.customerPassword}\n`);
    const out = join(work, 'opened');
    const result = await cli(['open-export', exported.location, '--password-file', passwordFile, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ repositories: ['endpoints/vm-07'], files: exported.files });
    const repository = join(out, 'endpoints/vm-07');
    expect(hasAtRestMagic(await readFile(join(repository, 'config')))).toBe(false);
    const restored = await restoreLocal(repository, join(work, 'restored'), backedUp.roots['vm-07'] as string);
    expect(restored).toEqual(backedUp.trees['vm-07']);
  });
});
