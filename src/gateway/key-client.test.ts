/** The gateway's side of the key service: what it accepts as its key, and how it waits for it. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateDataKey, keyIdOf } from '../crypto/index.ts';
import { createLogger } from '../log/logger.ts';
import { fetchDataKey, fetchDataKeyUntilDone, KeyFetchError, keyFromAnswer } from './key-client.ts';

describe('keyFromAnswer', () => {
  const key = generateDataKey();
  const keyId = keyIdOf(key);

  it('takes a 32-byte key whose id is the space\'s', () => {
    expect(keyFromAnswer(JSON.stringify({ keyId, dataKey: key.toString('base64') }), keyId).equals(key)).toBe(true);
  });

  it('refuses another key, a short key, or something else, without echoing the key', () => {
    const other = generateDataKey();
    const refusal = () => keyFromAnswer(JSON.stringify({ keyId: keyIdOf(other), dataKey: other.toString('base64') }), keyId);
    expect(refusal).toThrow(KeyFetchError);
    expect(refusal).toThrow(`this space's data is under key ${keyId}`);
    try { refusal(); } catch (error) { expect(String(error)).not.toContain(other.toString('base64')); }
    expect(() => keyFromAnswer(JSON.stringify({ keyId, dataKey: 'c2hvcnQ=' }), keyId)).toThrow('not base64 of 32 bytes');
    expect(() => keyFromAnswer('<html>', keyId)).toThrow('not JSON');
    expect(() => keyFromAnswer('{}', keyId)).toThrow('lacks keyId or dataKey');
  });
});

describe('fetchDataKeyUntilDone', () => {
  it('keeps asking an unreachable key service with growing pauses, logs the problem once, and stops when told', async () => {
    // A port that refuses connections: bound, then closed.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const bound = (server.address() as { port: number }).port;
        server.close(() => resolve(bound));
      });
    });
    const dir = await mkdtemp(join(tmpdir(), 'key-client-'));
    await writeFile(join(dir, 'token'), 'a-token\n');
    const lines: { level: string; msg: string }[] = [];
    const log = createLogger({ name: 'test', level: 'debug', destination: new Writable({ write(chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as { level: string; msg: string }); done(); } }) });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 400).unref();
    const key = await fetchDataKeyUntilDone({ url: `https://127.0.0.1:${port}`, tokenFile: join(dir, 'token') }, () => ({ namespace: 'tenant-a', name: 'main', keyId: 'k1-x' }), () => Buffer.from('not a real CA'), log, stop.signal, { baseMs: 20, maxMs: 80 });
    expect(key).toBeUndefined();
    const tries = lines.filter((l) => l.msg.startsWith('data key not obtained yet'));
    expect(tries.length).toBeGreaterThan(3);
    // One warning for the problem, then quiet (debug) while it stays the same.
    expect(tries.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('will not ask without a CA to verify the service, nor without its token', async () => {
    await expect(fetchDataKey({ url: 'https://127.0.0.1:1', tokenFile: '/nonexistent' }, { namespace: 'a', name: 'b', keyId: 'k' }, null)).rejects.toThrow('no ca.crt');
    await expect(fetchDataKey({ url: 'https://127.0.0.1:1', tokenFile: '/nonexistent/token' }, { namespace: 'a', name: 'b', keyId: 'k' }, Buffer.from('ca'))).rejects.toThrow('token /nonexistent/token cannot be read (ENOENT)');
  });
});
