import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from './logger.ts';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('logger', () => {
  it('censors secret material wherever the usual field names carry it', () => {
    const planted = 'planted-secret-value-7f3a';
    const { stream, text } = capture();
    const logger = createLogger({ name: 'test', destination: stream });
    logger.info({ password: planted, secret: { data: { password: planted } }, req: { headers: { authorization: `Basic ${planted}` } }, token: planted, object: 'tenant-acme/vault' }, 'something happened');
    logger.info({ credentials: { credential: planted }, dataKey: planted, totpSecret: planted, stringData: { password: planted } }, 'more');
    const output = text();
    expect(output).not.toContain(planted);
    expect(output).toContain(REDACTED);
    // Work-queue keys and other identifiers stay readable.
    expect(output).toContain('tenant-acme/vault');
  });
});
