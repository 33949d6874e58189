/**
 * The relay on real TLS and real HTTP: exportSpace with an http target streams to a running receiver
 * that writes into a directory with the directory target; what lands there is byte-identical to a
 * direct directory export. Broken uploads, wrong tokens and traversal names leave nothing finished.
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCertificate } from '../pki/certificates.ts';
import { exportSpace } from './export.ts';
import { httpTarget } from './http-target.ts';
import { requestedName, startReceiver, tokenMatches, type RunningReceiver } from './receiver.ts';
import type { ExportOptions } from './types.ts';
import { verifyExport } from './verify.ts';

const TOKEN = 'relay-token-0123456789abcdef';
const ARCHIVE = 'acme_main_term-0123.tar';
let caFile: string;
let tls: { cert: string; key: string };
let volume: string;
let tokenFile: string;
const running: RunningReceiver[] = [];

beforeAll(async () => {
  const ca = await createCertificateAuthority('relay-test-ca', 1);
  const issued = await issueServingCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
  const dir = await mkdtemp(join(tmpdir(), 'relay-'));
  caFile = join(dir, 'ca.crt');
  await writeFile(caFile, ca.certificate);
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
  tls = { cert: issued.certificate, key: issued.privateKey };
  // A space's volume: one repository, plain (no at-rest layer), with a 1 MiB pack.
  volume = join(dir, 'volume');
  const repo = join(volume, 'endpoints', 'laptop');
  const id = 'ab'.repeat(32);
  await mkdir(join(repo, 'data', 'ab'), { recursive: true });
  await mkdir(join(repo, 'keys'), { recursive: true });
  await writeFile(join(repo, 'config'), 'config bytes');
  await writeFile(join(repo, 'keys', 'cd'.repeat(32)), 'key bytes');
  await writeFile(join(repo, 'data', 'ab', id), Buffer.alloc(1024 * 1024, 7));
});

afterEach(async () => {
  for (const receiver of running.splice(0)) await receiver.close();
});

async function receiver(only?: string): Promise<{ running: RunningReceiver; dir: string; url: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-claim-'));
  const started = await startReceiver({ directory: dir, locationBase: 'pvc://provider/exports', token: TOKEN, tls, host: '127.0.0.1', port: 0, log: () => undefined, ...(only === undefined ? {} : { archive: only }) });
  running.push(started);
  return { running: started, dir, url: `https://localhost:${started.port}/` };
}

function options(target: ExportOptions['target']): ExportOptions {
  return { dataDir: volume, tenant: 'acme', space: 'main', spaceUid: 'uid-1', exportId: 'term-0123', organization: 'Provider S.p.A.', createdAt: new Date('2026-12-02T08:00:00Z'), key: { mode: 'none' }, target };
}

/** One raw request to the receiver; `body` may be cut short by `breakAfter` bytes (the socket is destroyed). */
async function send(url: string, method: string, path: string, opts: { token?: string; body?: Buffer; breakAfter?: number } = {}): Promise<number> {
  const ca = await readFile(caFile);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, ca, headers: { authorization: `Bearer ${opts.token ?? TOKEN}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error) => (opts.breakAfter === undefined ? reject(error) : resolve(-1)));
    if (opts.breakAfter !== undefined) {
      req.write(opts.body?.subarray(0, opts.breakAfter));
      setTimeout(() => req.destroy(), 200);
      return;
    }
    req.end(opts.body);
  });
}

async function eventuallyEmpty(dir: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const names = await readdir(dir);
    if (names.length === 0) return names;
    await new Promise((r) => setTimeout(r, 50));
  }
  return readdir(dir);
}

describe('the export relay (http target → receive-export)', () => {
  it('writes through the receiver exactly the bytes a directory export writes, re-read and verified on the receiver, which then stops', async () => {
    const { running: started, dir, url } = await receiver();
    const result = await exportSpace(options({ kind: 'http', url, caFile, tokenFile }));
    expect(result.location).toBe(`pvc://provider/exports/${ARCHIVE}`);
    expect(result.reused).toBe(false);
    expect((await readdir(dir)).sort()).toEqual([ARCHIVE, `${ARCHIVE}.sha256`]);
    const direct = await mkdtemp(join(tmpdir(), 'relay-direct-'));
    const reference = await exportSpace(options({ kind: 'directory', path: direct }));
    expect(await readFile(join(dir, ARCHIVE))).toEqual(await readFile(join(direct, ARCHIVE)));
    expect(await readFile(join(dir, `${ARCHIVE}.sha256`), 'utf8')).toBe(await readFile(join(direct, `${ARCHIVE}.sha256`), 'utf8'));
    expect(result.sha256).toBe(reference.sha256);
    await expect(started.done).resolves.toMatchObject({ location: `pvc://provider/exports/${ARCHIVE}`, sha256: reference.sha256 });
    await expect(verifyExport(join(dir, ARCHIVE))).resolves.toMatchObject({ sha256: reference.sha256 });
  });

  it('keeps a finished archive a restarted exporter finds there (HEAD, then POST to verify)', async () => {
    const { dir, url } = await receiver();
    const direct = await exportSpace(options({ kind: 'directory', path: dir }));
    const again = await exportSpace(options({ kind: 'http', url, caFile, tokenFile }));
    expect(again).toMatchObject({ reused: true, sha256: direct.sha256, location: `pvc://provider/exports/${ARCHIVE}` });
  });

  it('leaves no archive and no partial file when the upload breaks, and goes on serving', async () => {
    const { dir, url } = await receiver();
    expect(await send(url, 'PUT', `/${ARCHIVE}`, { body: Buffer.alloc(256 * 1024, 1), breakAfter: 128 * 1024 })).toBe(-1);
    expect(await eventuallyEmpty(dir)).toEqual([]);
    expect(await send(url, 'HEAD', `/${ARCHIVE}`)).toBe(404);
    // The checksum of a broken upload finds nothing waiting for it.
    expect(await send(url, 'PUT', `/${ARCHIVE}.sha256`, { body: Buffer.from(`${'a'.repeat(64)}  ${ARCHIVE}\n`) })).toBe(409);
    await exportSpace(options({ kind: 'http', url, caFile, tokenFile }));
    expect((await readdir(dir)).sort()).toEqual([ARCHIVE, `${ARCHIVE}.sha256`]);
  });

  it('discards an upload whose checksum line is not what it received', async () => {
    const { dir, url } = await receiver();
    expect(await send(url, 'PUT', `/${ARCHIVE}`, { body: Buffer.from('not the archive') })).toBe(202);
    expect(await send(url, 'PUT', `/${ARCHIVE}.sha256`, { body: Buffer.from(`${'a'.repeat(64)}  ${ARCHIVE}\n`) })).toBe(422);
    expect(await readdir(dir)).toEqual([]);
  });

  it('answers 401 to a wrong or missing token, and the exporter says so without the token', async () => {
    const { dir, url } = await receiver();
    expect(await send(url, 'HEAD', `/${ARCHIVE}`, { token: 'wrong' })).toBe(401);
    expect(await send(url, 'PUT', `/${ARCHIVE}`, { token: '', body: Buffer.from('x') })).toBe(401);
    const wrongFile = join(await mkdtemp(join(tmpdir(), 'relay-wrong-')), 'token');
    await writeFile(wrongFile, 'someone-elses-token');
    const error = await exportSpace(options({ kind: 'http', url, caFile, tokenFile: wrongFile })).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('HTTP 401');
    expect((error as Error).message).not.toContain('someone-elses-token');
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses names with a path separator, "..", or that are not archive names', async () => {
    const { dir, url } = await receiver();
    for (const path of ['/..%2Facme_main_x.tar', '/%2e%2e', '/sub%2Facme_main_x.tar', '/acme_main_x.tar%5C..', '/notes.txt', '/.acme_main_x.tar.partial']) {
      expect(await send(url, 'PUT', path, { body: Buffer.from('x') }), path).toBe(400);
    }
    expect(await readdir(dir)).toEqual([]);
    expect(requestedName(`/${ARCHIVE}.sha256`)).toEqual({ archive: ARCHIVE, checksum: true });
    expect(requestedName('/a/b_c_d.tar')).toHaveProperty('problem');
  });

  it('given the one archive it is for, refuses every other name (403) and takes that one', async () => {
    const { dir, url } = await receiver(ARCHIVE);
    expect(await send(url, 'PUT', '/acme_other_term-0123.tar', { body: Buffer.from('x') })).toBe(403);
    expect(await send(url, 'HEAD', '/acme_other_term-0123.tar')).toBe(403);
    expect(await readdir(dir)).toEqual([]);
    await exportSpace(options({ kind: 'http', url, caFile, tokenFile }));
    expect((await readdir(dir)).sort()).toEqual([ARCHIVE, `${ARCHIVE}.sha256`]);
  });

  it('is reached only over TLS it can verify: an exporter trusting another CA fails', async () => {
    const { url } = await receiver();
    const other = await createCertificateAuthority('someone-else', 1);
    const otherFile = join(await mkdtemp(join(tmpdir(), 'relay-ca-')), 'ca.crt');
    await writeFile(otherFile, other.certificate);
    await expect(exportSpace(options({ kind: 'http', url, caFile: otherFile, tokenFile }))).rejects.toThrow(/certificate/);
    await expect(exportSpace(options({ kind: 'http', url: url.replace('https', 'http'), caFile, tokenFile }))).rejects.toThrow(/https:\/\//);
  });
});

describe('the first contact', () => {
  it('waits out a receiver that does not listen yet, and gives up after its deadline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-late-'));
    const probe = await startReceiver({ directory: dir, locationBase: 'pvc://p/c', token: TOKEN, tls, host: '127.0.0.1', port: 0, log: () => undefined });
    const port = probe.port;
    await probe.close();
    const url = `https://localhost:${port}/`;
    await expect(httpTarget({ kind: 'http', url, caFile, tokenFile }, 1000).finished(ARCHIVE)).rejects.toThrow(/ECONNREFUSED/);
    const late = setTimeout(() => {
      void startReceiver({ directory: dir, locationBase: 'pvc://p/c', token: TOKEN, tls, host: '127.0.0.1', port, log: () => undefined }).then((r) => running.push(r));
    }, 2500);
    try {
      await expect(httpTarget({ kind: 'http', url, caFile, tokenFile }, 15_000).finished(ARCHIVE)).resolves.toBe(false);
    } finally {
      clearTimeout(late);
    }
  });
});

describe('the token comparison', () => {
  it('matches only the exact bearer token', () => {
    expect(tokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(tokenMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN, TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
    expect(tokenMatches('Bearer ', '')).toBe(false);
  });
});
