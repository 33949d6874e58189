import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamEncryptor } from '../gateway/at-rest.ts';
import { generateDataKey } from '../crypto/index.ts';
import { writeArchive } from './archive.ts';
import { scanVolume } from './scan.ts';
import { spaceFactsOf } from './key-source.ts';
import type { ExportKey } from './types.ts';
import type { GatewayAccessConfig } from '../gateway/access-config.ts';

const ID = createHash('sha256').update('pack').digest('hex');
const LOCK = createHash('sha256').update('lock').digest('hex');
const identity = { organization: 'P', tenant: 'acme', space: 's', spaceUid: 'uid-1', exportId: 'e1', createdAt: new Date('2026-12-01T10:00:00Z') };

async function volume(encryptWith: Buffer | null): Promise<{ dir: string; pack: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'export-unit-'));
  const repo = join(dir, 'endpoints', 'a');
  await mkdir(join(repo, 'data', ID.slice(0, 2)), { recursive: true });
  await mkdir(join(repo, 'locks'), { recursive: true });
  await mkdir(join(repo, 'keys'), { recursive: true });
  const pack = randomBytes(300_000);
  const store = (name: string, body: Buffer): Buffer => {
    if (encryptWith === null) return body;
    const encryptor = new StreamEncryptor({ dataKey: encryptWith, spaceUid: 'uid-1', objectName: name });
    return Buffer.concat([...encryptor.update(body), ...encryptor.final()]);
  };
  await writeFile(join(repo, 'config'), store('config', Buffer.from('config bytes')));
  await writeFile(join(repo, 'data', ID.slice(0, 2), ID), store(`data/${ID}`, pack));
  await writeFile(join(repo, 'locks', LOCK), store(`locks/${LOCK}`, Buffer.from('lock')));
  await writeFile(join(repo, 'data', ID.slice(0, 2), `.${ID}.tmp-0123456789abcdef`), 'partial upload');
  await mkdir(join(dir, 'lost+found'));
  return { dir, pack };
}

async function archiveOf(dir: string, key: ExportKey): Promise<Buffer> {
  const custody = key.mode === 'provider' ? 'provider' : key.mode === 'customer' ? 'customer-sealed' : 'none';
  const scan = await scanVolume(dir, custody);
  const parts: Buffer[] = [];
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { parts.push(chunk); done(); } });
  await writeArchive({ identity, custody, key, endpoints: [], scan, archive: 'acme_s_e1.tar' }, sink);
  return Buffer.concat(parts);
}

describe('the archive writer', () => {
  it('is deterministic, and leaves out locks and upload temporaries', async () => {
    const { dir, pack } = await volume(null);
    const a = await archiveOf(dir, { mode: 'none' });
    const b = await archiveOf(dir, { mode: 'none' });
    expect(a.equals(b)).toBe(true);
    expect(a.includes(pack)).toBe(true);
    expect(a.includes(Buffer.from(LOCK))).toBe(false);
    expect(a.includes(Buffer.from('partial upload'))).toBe(false);
    expect(a.includes(Buffer.from('acme_s_e1/data/endpoints/a/locks/'))).toBe(true);
    expect(a.length % 512).toBe(0);
  });

  it('removes the at-rest layer under provider custody, and refuses encrypted objects without a key', async () => {
    const dataKey = generateDataKey();
    const { dir, pack } = await volume(dataKey);
    expect((await archiveOf(dir, { mode: 'provider', dataKey })).includes(pack)).toBe(true);
    await expect(scanVolume(dir, 'none')).rejects.toThrow(/endpoints\/a\/config is encrypted at rest but the export was given no data key/);
    const sealed = await scanVolume(dir, 'customer-sealed');
    expect(sealed.files.every((file) => file.decrypt === null && file.size === file.storedSize)).toBe(true);
  });

  it('refuses an unexpected file inside a repository, naming it', async () => {
    const { dir } = await volume(null);
    await writeFile(join(dir, 'endpoints', 'a', 'notes.txt'), 'x');
    await expect(scanVolume(dir, 'none')).rejects.toThrow('unexpected entry in repository endpoints/a: notes.txt');
  });
});

describe('space facts from the gateway configuration', () => {
  const access = (custody: GatewayAccessConfig['space']['keyCustody'], encryptAtRest: boolean): GatewayAccessConfig => ({
    version: 1,
    space: { namespace: 'tenant-acme', name: 'vault', uid: 'uid-1', quotaBytes: 1, appendOnly: false, encryptAtRest, keyCustody: custody },
    endpoints: [{ name: 'laptop', credentialHash: 'x', repository: 'endpoints/laptop', enabled: true }],
    humans: { policy: 'disabled', users: [] },
    reportTokenHash: 'x',
  });

  it('takes the provider key, the customer record, or none, and refuses a missing provider key', () => {
    const key = generateDataKey();
    expect(spaceFactsOf(access({ mode: 'provider', keyId: 'k' }, true), key)).toMatchObject({ space: 'vault', spaceUid: 'uid-1', key: { mode: 'provider' }, endpoints: [{ name: 'laptop', repository: 'endpoints/laptop' }] });
    expect(spaceFactsOf(access({ mode: 'provider', keyId: 'k' }, false), null).key).toEqual({ mode: 'none' });
    expect(() => spaceFactsOf(access({ mode: 'provider', keyId: 'k' }, true), null)).toThrow(/data.key is missing/);
    const record = { kdf: { name: 'scrypt' as const, cost: 2, blockSize: 1, parallelization: 1, salt: 's' }, verifier: 'v', wrappedKey: 'w' };
    expect(spaceFactsOf(access({ mode: 'customer', keyId: 'k', record }, true), null).key).toEqual({ mode: 'customer', keyId: 'k', record });
  });
});
