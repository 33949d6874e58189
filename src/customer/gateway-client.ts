/**
 * HTTPS to a space's gateway for the customer commands: the gateway's certificate is always verified
 * against the CA file given (`--ca-file`, the operator's CA the provider hands out, or the space's own
 * `tlsSecretName` issuer); there is no switch to turn verification off. Answers come back as status
 * and body; refusals are turned into messages a customer admin can act on.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';

export interface GatewayTarget {
  /** https://host[:port] */
  gateway: string;
  caFile: string;
}

export interface GatewayAnswer {
  status: number;
  /** Parsed JSON for application/json answers, else the text. */
  body: unknown;
  text: string;
}

/** The gateway's base URL, checked: https only, no path, query or credentials. */
export function gatewayUrl(value: string, flag = '--gateway'): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${flag}: '${value}' is not a URL; give https://<host>:<port> of your space's gateway`);
  }
  if (url.protocol !== 'https:') throw new Error(`${flag}: the gateway is reached over https only, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username || url.password) throw new Error(`${flag}: the URL must not carry credentials`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new Error(`${flag}: give the gateway's address only (https://<host>:<port>), without a path`);
  return url;
}

async function readCa(caFile: string): Promise<Buffer> {
  try {
    const ca = await readFile(caFile);
    if (!ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return ca;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`--ca-file: cannot use ${caFile}: ${reason}`, { cause: error });
  }
}

const TLS_TRUST_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']);

export async function callGateway(target: GatewayTarget, method: 'GET' | 'POST', path: string, options: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<GatewayAnswer> {
  const base = gatewayUrl(target.gateway);
  const ca = await readCa(target.caFile);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8');
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'tenant-backup-cli' };
  if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) });
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers, ca, minVersion: 'TLSv1.2', timeout: options.timeoutMs ?? 60_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.once('error', reject);
      res.once('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let body: unknown = text.trim();
        if ((res.headers['content-type'] ?? '').startsWith('application/json')) {
          try {
            body = JSON.parse(text);
          } catch {
            // Left as text: the caller reports the status with it.
          }
        }
        resolve({ status: res.statusCode ?? 0, body, text: text.trim() });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from ${base.origin} within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`)));
    req.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== undefined && TLS_TRUST_CODES.has(error.code)) {
        reject(new Error(`the gateway at ${base.origin} is not who --ca-file ${target.caFile} vouches for (${error.code}: ${error.message}); check the address and the CA file`, { cause: error }));
      } else if (error.code === 'ECONNREFUSED' || error.code === 'ENOTFOUND' || error.code === 'EHOSTUNREACH' || error.code === 'ETIMEDOUT') {
        reject(new Error(`cannot reach the gateway at ${base.origin} (${error.code})`, { cause: error }));
      } else {
        reject(error);
      }
    });
    req.end(payload);
  });
}

/** The gateway's refusal as one line: its own message (never a secret: see gateway/http-util.ts). */
export function refusal(what: string, answer: GatewayAnswer): Error {
  const said = typeof answer.body === 'string' ? answer.body : answer.text;
  const hint = answer.status === 401 && what !== 'sign-in' ? '; the session may have expired or the gateway restarted: run tenant-backup login again' : '';
  return new Error(`${what} refused by the gateway (${answer.status}): ${said || 'no reason given'}${hint}`);
}
