import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ArchiveOutput } from './archive-output.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Writes a header, three files (one empty, one spanning many slots) and trailers; returns what it wrote. */
async function writeSample(out: ArchiveOutput): Promise<{ expected: Buffer; files: Buffer[]; digests: string[]; archive: string }> {
  const parts: Buffer[] = [];
  const files = [randomBytes(1000), Buffer.alloc(0), randomBytes(333)];
  const digests: Array<Promise<string>> = [];
  for (const [i, file] of files.entries()) {
    const header = Buffer.from(`header ${i}`);
    await out.write(header);
    parts.push(header);
    out.beginFile();
    if (i === 2) {
      // Straight into the slot, a few bytes at a time, as plain files are read.
      for (let at = 0; at < file.length; ) {
        at += await out.fill(async (into) => {
          const count = Math.min(into.length, 50, file.length - at);
          file.copy(into, 0, at, at + count);
          return count;
        });
      }
    } else {
      for (let at = 0; at < file.length; at += 77) await out.write(file.subarray(at, at + 77));
    }
    digests.push(out.endFile());
    parts.push(file);
  }
  const trailer = Buffer.alloc(100, 7);
  await out.write(trailer);
  parts.push(trailer);
  await out.flush();
  const done = await Promise.all(digests);
  return { expected: Buffer.concat(parts), files, digests: done, archive: await out.finish() };
}

describe('the archive output', () => {
  it('writes every byte once, in order, with the archive digest and each file digest, across slot boundaries, to a file', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'archive-output-')), 'out.tar');
    const stream = createWriteStream(path);
    const out = new ArchiveOutput(stream, { slots: 3, slotBytes: 64 });
    try {
      const { expected, files, digests, archive } = await writeSample(out);
      await new Promise<void>((resolve) => stream.end(resolve));
      const onDisk = await readFile(path);
      expect(onDisk.equals(expected)).toBe(true);
      expect(archive).toBe(sha256(expected));
      expect(digests).toEqual(files.map(sha256));
      expect(out.size).toBe(expected.length);
    } finally {
      await out.close();
    }
  });

  it('hands a destination that keeps its chunks a copy, so reused slots do not change what it holds', async () => {
    const kept: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        kept.push(chunk);
        done();
      },
    });
    const out = new ArchiveOutput(sink, { slots: 2, slotBytes: 64 });
    try {
      const { expected, archive } = await writeSample(out);
      expect(Buffer.concat(kept).equals(expected)).toBe(true);
      expect(archive).toBe(sha256(expected));
    } finally {
      await out.close();
    }
  });

  it('fails the archive with the destination error, and the digests of files still open with it', async () => {
    const sink = new Writable({
      write(_chunk: Buffer, _encoding, done) {
        done(new Error('disk full'));
      },
    });
    sink.on('error', () => undefined);
    const out = new ArchiveOutput(sink, { slots: 2, slotBytes: 64 });
    try {
      out.beginFile();
      const digest = out.endFile();
      const writing = (async () => {
        for (let i = 0; i < 10; i++) await out.write(randomBytes(64));
      })();
      await expect(writing).rejects.toThrow('disk full');
      await expect(digest).rejects.toThrow('disk full');
    } finally {
      await out.close();
    }
  });
});
