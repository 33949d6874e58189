/**
 * What a server's TLS offers, asked with the real openssl client: the checks every server of the
 * project must pass under the one policy of src/pki/tls-policy.ts (S2).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { expect } from 'vitest';
import { requireCommand } from '../harness/commands.ts';
import { run } from './run.ts';

export interface Handshake {
  ok: boolean;
  protocol?: string;
  cipher?: string;
  output: string;
}

/** One `openssl s_client` handshake with these flags (e.g. `-tls1_2 -cipher X`). */
export async function opensslHandshake(port: number, flags: string[], options: { caFile?: string; servername?: string } = {}): Promise<Handshake> {
  await requireCommand('openssl', 'apt-get install -y openssl');
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, ...(options.servername ? ['-servername', options.servername] : []), ...(options.caFile ? ['-CAfile', options.caFile] : []), ...flags];
  const result = await run('openssl', args, { timeoutMs: 15_000, input: 'Q\n' });
  const output = `${result.stdout}${result.stderr}`;
  const negotiated = /New, (TLSv[\d.]+|\(NONE\)), Cipher is (\S+)/.exec(result.stdout);
  const cipher = negotiated?.[2] === '(NONE)' ? undefined : negotiated?.[2];
  return { ok: result.code === 0 && cipher !== undefined, protocol: negotiated?.[1], cipher, output };
}

/** TLS 1.2 suites Node offers by default that the policy refuses: CBC (LUCKY13), static RSA, ARIA, CCM. */
export const REFUSED_TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-ECDSA-ARIA128-GCM-SHA256',
  'ECDHE-ECDSA-AES128-CCM',
  'AES128-GCM-SHA256',
] as const;

/**
 * The server negotiates ECDHE with an AEAD suite on TLS 1.2 and TLS 1.3 as is, and refuses every
 * TLS 1.2 suite outside the policy even from a client that offers only that one.
 */
export async function expectAeadOnlyTls(port: number, options: { caFile?: string; servername?: string } = {}): Promise<void> {
  for (const suite of REFUSED_TLS12_SUITES) {
    const refused = await opensslHandshake(port, ['-tls1_2', '-cipher', suite], options);
    expect(refused.ok, `TLS 1.2 with ${suite} must fail:\n${refused.output}`).toBe(false);
  }
  for (const suite of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
    const accepted = await opensslHandshake(port, ['-tls1_2', '-cipher', suite], options);
    expect(accepted, accepted.output).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: suite });
  }
  const tls13 = await opensslHandshake(port, ['-tls1_3'], options);
  expect(tls13, tls13.output).toMatchObject({ ok: true, protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
}

/** A GET over TLS 1.2+ to 127.0.0.1 (certificate checked against `ca` when given), with an optional bearer token. */
export function httpsGet(port: number, path: string, options: { ca?: string | Buffer; token?: string; servername?: string } = {}): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port,
      path,
      minVersion: 'TLSv1.2',
      ...(options.ca ? { ca: options.ca, ...(options.servername ? { servername: options.servername } : {}) } : { rejectUnauthorized: false }),
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
