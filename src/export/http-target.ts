/**
 * The exporter's side of the relay to a receiver (`tenant-backup receive-export`, receiver.ts): the
 * archive streams by one chunked HTTPS PUT, its `.sha256` follows in a second PUT (the receiver makes
 * the archive visible only then), HEAD asks whether an archive is finished, and POST asks the receiver
 * to re-read it from its disk and check every digest — the re-read exportSpace makes before it
 * returns, done where the archive is, since the exporter cannot read it back itself.
 *
 * TLS is verified against the given CA (TLS 1.2+); the bearer token is read from a file and never
 * appears in an error.
 */
import { readFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { PassThrough } from 'node:stream';
import { checksumFileName } from './names.ts';
import type { ArchiveWrite, OpenedTarget } from './targets.ts';
import type { HttpTarget, VerifyResult } from './types.ts';
import { ExportVerificationError } from './verify.ts';

/** Answers the receiver gives as text are read up to this size (a VerifyResult or an error line). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * How long the first request retries a receiver it cannot reach: a new pod is let through the
 * NetworkPolicies only once the CNI has seen it (seconds), and the receiver may still be starting.
 */
const FIRST_CONTACT_MS = 120_000;
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

function unreachable(error: unknown): boolean {
  const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && UNREACHABLE.has(code);
}

async function answerText(response: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of response as AsyncIterable<Buffer>) {
    size += part.length;
    if (size <= MAX_ANSWER_BYTES) parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8').slice(0, MAX_ANSWER_BYTES).trim();
}

/** Pure: the receiver URL as given, checked (https only: S2), ending in "/". */
export function receiverBase(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--http-target must be an https:// URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'https:') throw new Error(`--http-target must be an https:// URL (secure protocols only), got ${JSON.stringify(url)}`);
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') throw new Error('--http-target must not carry credentials, a query or a fragment');
  if (!parsed.pathname.endsWith('/')) parsed.pathname = `${parsed.pathname}/`;
  return parsed;
}

export function httpTarget(target: HttpTarget, firstContactMs = FIRST_CONTACT_MS): OpenedTarget {
  const base = receiverBase(target.url);
  const token = readFileSync(target.tokenFile, 'utf8').replace(/\r?\n$/, '');
  if (token === '') throw new Error(`--http-token-file ${target.tokenFile} is empty`);
  const ca = target.caFile === undefined ? undefined : readFileSync(target.caFile);
  const urlOf = (name: string) => new URL(encodeURIComponent(name), base);

  function send(method: string, name: string, headers: Record<string, string> = {}): { request: ClientRequest; response: Promise<IncomingMessage> } {
    const url = urlOf(name);
    const req = request(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...headers },
      minVersion: 'TLSv1.2',
      ...(ca === undefined ? {} : { ca }),
    });
    // Only the connection has a deadline: an upload's body may take as long as the archive does.
    req.once('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), 10_000);
      socket.once('secureConnect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (error) => reject(new Error(`${method} ${url.href}: ${error.message}`, { cause: error })));
    });
    // Reported by whoever awaits the response; without a handler an early failure would be unhandled.
    response.catch(() => undefined);
    return { request: req, response };
  }

  async function small(method: string, name: string, body?: string): Promise<{ status: number; text: string }> {
    const { request: req, response } = send(method, name, body === undefined ? {} : { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    req.end(body);
    const answer = await response;
    return { status: answer.statusCode ?? 0, text: await answerText(answer) };
  }

  const failure = (what: string, status: number, text: string) => new Error(`${what} ${urlOf('').href}: the receiver answered HTTP ${status}${status === 401 ? ' (the token is not the receiver\'s)' : ''}${text ? `: ${text}` : ''}`);

  return {
    location: (archive) => urlOf(archive).href,
    async finished(archive) {
      // The first request of an export: it waits out a receiver that cannot be reached yet.
      const deadline = Date.now() + firstContactMs;
      let answer: { status: number; text: string };
      for (;;) {
        try {
          answer = await small('HEAD', archive);
          break;
        } catch (error) {
          if (!unreachable(error) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      }
      const { status, text } = answer;
      if (status === 200) return true;
      if (status === 404) return false;
      throw failure(`HEAD ${archive} at`, status, text);
    },
    async begin(archive): Promise<ArchiveWrite> {
      // No content length: the body is sent chunked, as the archive is made.
      const { request: req, response } = send('PUT', archive, { 'content-type': 'application/x-tar' });
      const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
      stream.pipe(req);
      // A receiver that refuses the upload early (a wrong token, an upload in progress) stops it.
      void response.then((answer) => {
        if ((answer.statusCode ?? 0) >= 300) stream.destroy(failure(`PUT ${archive} to`, answer.statusCode ?? 0, ''));
      }, (error: unknown) => stream.destroy(error as Error));
      return {
        stream,
        async complete(checksumText) {
          stream.end();
          const answer = await response;
          const text = await answerText(answer);
          if (answer.statusCode !== 202) throw failure(`PUT ${archive} to`, answer.statusCode ?? 0, text);
          const checksum = await small('PUT', checksumFileName(archive), checksumText);
          if (checksum.status !== 201) throw failure(`PUT ${checksumFileName(archive)} to`, checksum.status, checksum.text);
        },
        async abort() {
          stream.destroy();
          req.destroy();
          await response.catch(() => undefined);
        },
      };
    },
    async verify(archive) {
      const { status, text } = await small('POST', archive);
      if (status === 422) throw new ExportVerificationError(text);
      if (status !== 200) throw failure(`POST ${archive} (verify) to`, status, text);
      const result = JSON.parse(text) as VerifyResult;
      if (typeof result.sha256 !== 'string' || typeof result.size !== 'number' || typeof result.location !== 'string') throw new Error(`the receiver's verification of ${archive} is not a result: ${text.slice(0, 200)}`);
      return result;
    },
  };
}
