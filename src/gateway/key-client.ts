/**
 * How a provider-custody gateway (or a termination export) gets its space's data key: from the
 * operator's key service (src/operator/key-service.ts), over TLS verified against the operator's CA,
 * presenting the space's projected ServiceAccount token. The key is held in memory only; nothing is
 * written anywhere.
 *
 * While the operator is unreachable the gateway keeps asking, with a growing pause, and stays not
 * ready; it does not exit (a crash loop would only add restarts and log noise). A failure is logged
 * once when it starts or changes, not at every try.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { KEY_BYTES, keyIdOf } from '../crypto/index.ts';
import type { Logger } from '../log/logger.ts';
import { backoffDelay } from '../runtime/workqueue.ts';
import { sleep } from '../runtime/sleep.ts';

export interface KeyServiceClientOptions {
  /** Base URL of the key service, e.g. https://tenant-backup-keys.tenant-backup-system.svc:9444. */
  url: string;
  /** The projected ServiceAccount token (re-read at every try: the kubelet renews it). */
  tokenFile: string;
}

/** A try that did not yield the key; `status` is the HTTP status (0: no answer). */
export class KeyFetchError extends Error {
  override readonly name = 'KeyFetchError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const MAX_ANSWER_BYTES = 4096;

/** Pure: the data key out of the key service's answer, checked against the key id the space is under. */
export function keyFromAnswer(text: string, keyId: string): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeyFetchError(200, 'the key service answered something that is not JSON');
  }
  const { keyId: answeredId, dataKey } = (parsed ?? {}) as { keyId?: unknown; dataKey?: unknown };
  if (typeof dataKey !== 'string' || typeof answeredId !== 'string') throw new KeyFetchError(200, 'the key service answer lacks keyId or dataKey');
  const key = Buffer.from(dataKey, 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== dataKey) throw new KeyFetchError(200, `the key service answered a data key that is not base64 of ${KEY_BYTES} bytes`);
  if (keyIdOf(key) !== keyId || answeredId !== keyId) {
    key.fill(0);
    throw new KeyFetchError(200, `the key service answered key ${answeredId}, but this space's data is under key ${keyId}`);
  }
  return key;
}

/** One try: GET <url>/v1/spaces/<namespace>/<space>/key. */
export async function fetchDataKey(options: KeyServiceClientOptions, space: { namespace: string; name: string; keyId: string }, ca: Buffer | null): Promise<Buffer> {
  if (ca === null) throw new KeyFetchError(0, 'no ca.crt in the configuration directory: the key service cannot be verified');
  let token: string;
  try {
    token = (await readFile(options.tokenFile, 'utf8')).trim();
  } catch (error) {
    throw new KeyFetchError(0, `the ServiceAccount token ${options.tokenFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const url = new URL(`${options.url.replace(/\/+$/, '')}/v1/spaces/${encodeURIComponent(space.namespace)}/${encodeURIComponent(space.name)}/key`);
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method: 'GET', ca, minVersion: 'TLSv1.2', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new KeyFetchError(res.statusCode ?? 0, 'the key service answer is too large'));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new KeyFetchError(0, 'the key service did not answer within 10 s')));
    req.on('error', (error) => reject(error instanceof KeyFetchError ? error : new KeyFetchError(0, `the key service at ${url.origin} is not reachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
    req.end();
  });
  if (answer.status !== 200) throw new KeyFetchError(answer.status, `the key service refused: ${answer.status} ${answer.text.slice(0, 300)}`);
  return keyFromAnswer(answer.text, space.keyId);
}

/**
 * Asks until it has the key (or is stopped). `space()` is read at every try, so a reloaded
 * configuration is followed.
 */
export async function fetchDataKeyUntilDone(
  options: KeyServiceClientOptions,
  space: () => { namespace: string; name: string; keyId: string },
  ca: () => Buffer | null,
  log: Logger,
  signal: AbortSignal,
  timing: { baseMs: number; maxMs: number } = { baseMs: 1000, maxMs: 30_000 },
): Promise<Buffer | undefined> {
  let lastProblem: string | undefined;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const key = await fetchDataKey(options, space(), ca());
      log.info({ keyId: space().keyId, attempts: attempt + 1 }, 'data key obtained from the operator\'s key service');
      return key;
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      const delay = backoffDelay(attempt, timing);
      if (problem !== lastProblem) log.warn({ reason: problem, retryInMs: delay }, 'data key not obtained yet; the gateway stays not ready and keeps asking');
      else log.debug({ reason: problem, retryInMs: delay }, 'data key not obtained yet');
      lastProblem = problem;
      await sleep(delay, signal);
    }
  }
  return undefined;
}
