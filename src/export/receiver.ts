/**
 * `tenant-backup receive-export`: the other end of http-target.ts. It runs where the exporter cannot
 * write — beside a claim of another namespace, mounted at `directory` — and writes what it receives
 * with the directory target itself (`.<archive>.partial`, fsync, rename, `.sha256` last), so an
 * archive is finished on the claim exactly as if the exporter had mounted it.
 *
 *   HEAD /<archive>          200 when the archive and its .sha256 are there, 404 otherwise
 *   PUT  /<archive>          the archive, streamed (chunked); 202 once every byte is on disk, not yet visible
 *   PUT  /<archive>.sha256   its checksum line; 201 once it matches what was received and the archive
 *                            is renamed into place with its .sha256 beside it
 *   POST /<archive>          re-reads it from disk and checks every digest (verifyExport): 200 with the
 *                            result, after which the receiver stops; 422 (and the archive no longer
 *                            looks finished) when it does not verify
 *
 * Every request needs the bearer token (compared in constant time). A name is one path segment of
 * our archive naming; a path separator, `..` or anything else is refused; given the one archive it
 * is for, the receiver refuses every other. A broken upload leaves no
 * partial file. The receiver stops only after a successful POST: that is what the exporter asks
 * last, so a restarted exporter (reusing the finished archive) still finds it serving.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { serverTlsOptions } from '../pki/tls-policy.ts';
import { bagNameOfArchive, checksumFileName } from './names.ts';
import { directoryTarget, type ArchiveWrite } from './targets.ts';
import type { VerifyResult } from './types.ts';
import { ExportVerificationError, parseChecksumFile } from './verify.ts';

const MAX_CHECKSUM_BYTES = 4096;
/**
 * An upload that sends nothing for this long is given up (and its partial file removed): its sender
 * is gone without closing the connection, and a new sender must not be refused as "in progress".
 */
const UPLOAD_IDLE_MS = 5 * 60_000;

export interface ReceiverOptions {
  /** The directory archives are written into: the target claim, mounted. */
  directory: string;
  /** Where that directory is, as the result names it: `pvc://<namespace>/<claim>`. */
  locationBase: string;
  token: string;
  /** The one archive it takes (others are refused, 403); absent: any archive name. */
  archive?: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  host?: string;
  port?: number;
  /** Lines about what happens (never the token); stderr by default. */
  log?: (line: string) => void;
}

export interface RunningReceiver {
  port: number;
  /** Resolves with the verification of the archive the exporter last asked to verify; the server is closed then. */
  done: Promise<VerifyResult>;
  close(): Promise<void>;
}

/** Pure: the archive a request path names (`/<archive>` or `/<archive>.sha256`), or why it is refused. */
export function requestedName(path: string): { archive: string; checksum: boolean } | { problem: string } {
  let name: string;
  try {
    name = decodeURIComponent((path.split('?')[0] ?? '').replace(/^\//, ''));
  } catch {
    return { problem: 'the name is not valid percent-encoding' };
  }
  if (name === '' || /[/\\\0]/.test(name) || name === '.' || name === '..' || name.includes('..')) return { problem: 'a name must be one path segment, without "/", "\\" or ".."' };
  const checksum = name.endsWith('.sha256');
  const archive = checksum ? name.slice(0, -'.sha256'.length) : name;
  if (bagNameOfArchive(archive) === null || !/^[a-z0-9._-]+$/.test(archive)) return { problem: 'a name must be an archive <tenant>_<space>_<export id>.tar or its .sha256' };
  return { archive, checksum };
}

/** Constant-time: neither the token's bytes nor its length leak through the comparison's timing. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token)) && given !== '';
}

function answer(res: ServerResponse, status: number, text = '', type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
  res.end(text);
}

async function readSmall(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) return undefined;
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}

interface Pending {
  write: ArchiveWrite;
  /** Set once the whole body is on disk. */
  received?: { sha256: string; size: number };
}

export async function startReceiver(options: ReceiverOptions): Promise<RunningReceiver> {
  const target = directoryTarget(options.directory);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pending = new Map<string, Pending>();
  let resolveDone: (result: VerifyResult) => void = () => undefined;
  const done = new Promise<VerifyResult>((resolve) => {
    resolveDone = resolve;
  });

  async function receiveArchive(req: IncomingMessage, res: ServerResponse, archive: string): Promise<void> {
    if (pending.has(archive)) return answer(res, 409, `${archive}: an upload of it is in progress`);
    const entry: Pending = { write: await target.begin(archive) };
    pending.set(archive, entry);
    const hash = createHash('sha256');
    let size = 0;
    const tally = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    req.socket.setTimeout(UPLOAD_IDLE_MS, () => req.destroy(new Error(`nothing received for ${UPLOAD_IDLE_MS / 1000} s`)));
    try {
      await pipeline(req, tally, entry.write.stream);
    } catch (error) {
      // The connection broke (or the disk failed): nothing of this upload stays.
      req.socket.setTimeout(0);
      pending.delete(archive);
      await entry.write.abort();
      log(`upload of ${archive} broke after ${size} bytes, partial file removed: ${(error as Error).message}`);
      if (!res.headersSent && !res.destroyed) answer(res, 500, `${archive}: the upload could not be written: ${(error as Error).message}`);
      return;
    }
    // Idle keep-alive connections are the server's to close; only an upload has a deadline.
    req.socket.setTimeout(0);
    entry.received = { sha256: hash.digest('hex'), size };
    log(`received ${archive}: ${size} bytes, sha256 ${entry.received.sha256}`);
    answer(res, 202, `${archive}: ${size} bytes received; PUT ${checksumFileName(archive)} to finish it`);
  }

  async function receiveChecksum(req: IncomingMessage, res: ServerResponse, archive: string): Promise<void> {
    const text = await readSmall(req, MAX_CHECKSUM_BYTES);
    if (text === undefined) return answer(res, 413, `${checksumFileName(archive)}: larger than ${MAX_CHECKSUM_BYTES} bytes`);
    const parsed = parseChecksumFile(text, archive);
    if ('problem' in parsed) return answer(res, 400, parsed.problem);
    const entry = pending.get(archive);
    if (entry?.received === undefined) {
      // Already finished by an earlier request whose answer was lost: the same line is no change.
      if (await target.finished(archive)) {
        if ((await readFile(join(options.directory, checksumFileName(archive)), 'utf8')) === text) return answer(res, 201, `${archive}: finished`);
      }
      return answer(res, 409, `${archive}: no complete upload of it is waiting for its checksum; PUT the archive first`);
    }
    pending.delete(archive);
    if (parsed.sha256 !== entry.received.sha256) {
      await entry.write.abort();
      return answer(res, 422, `${archive}: received ${entry.received.size} bytes with sha256 ${entry.received.sha256}, but the checksum line says ${parsed.sha256}; the upload is discarded`);
    }
    await entry.write.complete(text);
    log(`finished ${archive} and ${checksumFileName(archive)}`);
    answer(res, 201, `${archive}: finished`);
  }

  async function verify(res: ServerResponse, archive: string): Promise<void> {
    try {
      const result = await target.verify(archive);
      const verified: VerifyResult = { ...result, location: `${options.locationBase.replace(/\/+$/, '')}/${archive}` };
      log(`verified ${archive}: ${verified.size} bytes, sha256 ${verified.sha256}, ${verified.files} files`);
      answer(res, 200, JSON.stringify(verified), 'application/json');
      resolveDone(verified);
    } catch (error) {
      if (!(error instanceof ExportVerificationError)) throw error;
      // Damaged: it must not look finished, so that the exporter writes it again.
      await rm(join(options.directory, checksumFileName(archive)), { force: true });
      log(`${archive} did not verify; its .sha256 is removed: ${error.message}`);
      answer(res, 422, error.message);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!tokenMatches(req.headers.authorization, options.token)) {
      req.resume();
      return answer(res, 401, 'a bearer token is required, and this is not it');
    }
    const name = requestedName(req.url ?? '/');
    if ('problem' in name) {
      req.resume();
      return answer(res, 400, name.problem);
    }
    const { archive, checksum } = name;
    if (options.archive !== undefined && archive !== options.archive) {
      req.resume();
      return answer(res, 403, `this receiver takes only ${options.archive}`);
    }
    if (req.method === 'HEAD' && !checksum) return answer(res, (await target.finished(archive)) ? 200 : 404);
    if (req.method === 'PUT') return checksum ? receiveChecksum(req, res, archive) : receiveArchive(req, res, archive);
    if (req.method === 'POST' && !checksum) {
      req.resume();
      return verify(res, archive);
    }
    req.resume();
    answer(res, 405, `${req.method ?? ''} ${checksum ? checksumFileName(archive) : archive}: not something the receiver does`);
  }

  const server: Server = createServer({ ...serverTlsOptions(options.tls) }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`${req.method ?? ''} ${req.url ?? ''} failed: ${(error as Error).message}`);
      if (!res.headersSent && !res.destroyed) answer(res, 500, (error as Error).message);
    });
  });
  // An upload can take as long as the archive does; the sockets' own keep-alives notice a dead peer.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8443, options.host ?? '0.0.0.0', () => resolve());
  });
  const close = async () => {
    for (const [, entry] of pending) await entry.write.abort();
    pending.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  };
  void done.then(() => close());
  return { port: (server.address() as AddressInfo).port, done, close };
}
