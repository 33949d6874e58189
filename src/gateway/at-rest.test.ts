import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  AT_REST_HEADER_BYTES,
  AT_REST_TAG_BYTES,
  AtRestIntegrityError,
  createChunkOpener,
  createDecryptStream,
  createEncryptStream,
  encryptedSize,
  hasAtRestMagic,
  parseHeader,
  planRange,
  plaintextSize,
  type AtRestContext,
} from './at-rest.ts';

const CHUNK = 1024;
const context: AtRestContext = { dataKey: randomBytes(32), spaceUid: 'uid-1', objectName: 'data/abc' };

/** Feeds `data` in irregular pieces, as a network socket would. */
function piecewise(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let offset = 0, step = 1; offset < data.length; offset += step, step = (step * 7 + 3) % 2500 + 1) {
    pieces.push(data.subarray(offset, offset + step));
  }
  return Readable.from(pieces);
}

async function encrypt(plaintext: Buffer, ctx = context): Promise<Buffer> {
  return buffer(piecewise(plaintext).pipe(createEncryptStream(ctx, CHUNK)));
}

async function decrypt(file: Buffer, start: number, end: number, ctx = context): Promise<Buffer> {
  const header = parseHeader(file);
  const plan = planRange(header, file.length, start, end);
  const out: Buffer[] = [];
  await pipeline(
    piecewise(file.subarray(plan.fileStart, plan.fileEnd + 1)),
    createDecryptStream(ctx, header, plan),
    async (source: AsyncIterable<Buffer>) => {
      for await (const part of source) out.push(part);
    },
  );
  return Buffer.concat(out);
}

async function decryptAll(file: Buffer, ctx = context): Promise<Buffer> {
  const size = plaintextSize(file.length, parseHeader(file).chunkBytes)!;
  return decrypt(file, 0, Math.max(0, size - 1), ctx);
}

describe('at-rest format', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17])('round-trips %i bytes and predicts sizes', async (size) => {
    const plaintext = randomBytes(size);
    const file = await encrypt(plaintext);
    expect(hasAtRestMagic(file)).toBe(true);
    expect(file.length).toBe(encryptedSize(size, CHUNK));
    expect(plaintextSize(file.length, CHUNK)).toBe(size);
    expect((await decryptAll(file)).equals(plaintext)).toBe(true);
  });

  it('does not contain the plaintext and differs for the same input (per-object salt)', async () => {
    const plaintext = Buffer.from('MARKER-'.repeat(500));
    const a = await encrypt(plaintext);
    const b = await encrypt(plaintext);
    expect(a.includes(Buffer.from('MARKER-'))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('reads ranges at and around chunk boundaries', async () => {
    const plaintext = randomBytes(4 * CHUNK + 100);
    const file = await encrypt(plaintext);
    const ranges: [number, number][] = [
      [0, 0], [0, CHUNK - 1], [CHUNK - 1, CHUNK], [CHUNK, 2 * CHUNK - 1], [CHUNK + 5, 3 * CHUNK + 7],
      [4 * CHUNK, 4 * CHUNK + 99], [4 * CHUNK + 99, 4 * CHUNK + 99], [17, plaintext.length - 1],
    ];
    for (const [start, end] of ranges) {
      const header = parseHeader(file);
      const plan = planRange(header, file.length, start, end);
      // Only the chunks covering the range are read.
      expect(plan.fileEnd - plan.fileStart + 1).toBeLessThanOrEqual((plan.lastChunk - plan.firstChunk + 1) * (CHUNK + AT_REST_TAG_BYTES));
      expect((await decrypt(file, start, end)).equals(plaintext.subarray(start, end + 1))).toBe(true);
    }
  });

  it('detects a flipped bit', async () => {
    const file = await encrypt(randomBytes(3 * CHUNK));
    file[AT_REST_HEADER_BYTES + CHUNK + 20]! ^= 1;
    await expect(decryptAll(file)).rejects.toBeInstanceOf(AtRestIntegrityError);
    // A range that does not touch the altered chunk still decrypts.
    await expect(decrypt(file, 0, 10)).resolves.toHaveLength(11);
  });

  it('detects truncation at a chunk boundary and a dropped final chunk', async () => {
    const file = await encrypt(randomBytes(3 * CHUNK + 10));
    const sealed = CHUNK + AT_REST_TAG_BYTES;
    const withoutFinal = file.subarray(0, AT_REST_HEADER_BYTES + 3 * sealed);
    await expect(decryptAll(withoutFinal)).rejects.toBeInstanceOf(AtRestIntegrityError);
    const exact = await encrypt(randomBytes(3 * CHUNK));
    await expect(decryptAll(exact.subarray(0, AT_REST_HEADER_BYTES + 2 * sealed))).rejects.toBeInstanceOf(AtRestIntegrityError);
    // A cut inside a tag leaves an impossible size.
    expect(() => planRange(parseHeader(file), AT_REST_HEADER_BYTES + 3 * sealed + 5, 0, 0)).toThrow(AtRestIntegrityError);
  });

  it('detects reordered chunks', async () => {
    const file = await encrypt(randomBytes(3 * CHUNK + 10));
    const sealed = CHUNK + AT_REST_TAG_BYTES;
    const first = Buffer.from(file.subarray(AT_REST_HEADER_BYTES, AT_REST_HEADER_BYTES + sealed));
    const second = Buffer.from(file.subarray(AT_REST_HEADER_BYTES + sealed, AT_REST_HEADER_BYTES + 2 * sealed));
    second.copy(file, AT_REST_HEADER_BYTES);
    first.copy(file, AT_REST_HEADER_BYTES + sealed);
    await expect(decrypt(file, 0, 10)).rejects.toBeInstanceOf(AtRestIntegrityError);
  });

  it('binds the space, the object name, the key and the header', async () => {
    const file = await encrypt(randomBytes(100));
    await expect(decryptAll(file, { ...context, spaceUid: 'uid-2' })).rejects.toBeInstanceOf(AtRestIntegrityError);
    await expect(decryptAll(file, { ...context, objectName: 'data/other' })).rejects.toBeInstanceOf(AtRestIntegrityError);
    await expect(decryptAll(file, { ...context, dataKey: randomBytes(32) })).rejects.toBeInstanceOf(AtRestIntegrityError);
    const salted = Buffer.from(file);
    salted[20]! ^= 1;
    await expect(decryptAll(salted)).rejects.toBeInstanceOf(AtRestIntegrityError);
  });

  it('opens sealed chunks one at a time, as the export reads them, and refuses a wrong index or last-chunk flag', async () => {
    const plaintext = randomBytes(2 * CHUNK + 5);
    const file = await encrypt(plaintext);
    const header = parseHeader(file);
    const open = createChunkOpener(context, header);
    const sealed = (index: number): Buffer => file.subarray(AT_REST_HEADER_BYTES + index * (CHUNK + AT_REST_TAG_BYTES), AT_REST_HEADER_BYTES + (index + 1) * (CHUNK + AT_REST_TAG_BYTES));
    expect(Buffer.concat([open(0, false, sealed(0)), open(1, false, sealed(1)), open(2, true, sealed(2))]).equals(plaintext)).toBe(true);
    expect(() => open(1, false, sealed(0))).toThrow(AtRestIntegrityError);
    expect(() => open(2, false, sealed(2))).toThrow(AtRestIntegrityError);
  });

  it('refuses headers that are not ours or ask for absurd chunk sizes', () => {
    expect(() => parseHeader(Buffer.alloc(AT_REST_HEADER_BYTES))).toThrow(AtRestIntegrityError);
    const header = Buffer.alloc(AT_REST_HEADER_BYTES);
    Buffer.from('TBGW-AR\x01', 'latin1').copy(header);
    header.writeUInt32BE(2 ** 31, 8);
    expect(() => parseHeader(header)).toThrow(/chunk size/);
  });
});
