import { describe, expect, it } from 'vitest';
import { jsonLines } from './json-lines.ts';

async function* chunksOf(bytes: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

describe('jsonLines', () => {
  const events = [
    { type: 'ADDED', object: { displayName: 'Società Cooperativa Àrbëreshë – Perù' } },
    { type: 'MODIFIED', object: { displayName: 'Müller & Söhne Größenwahn GmbH 🇩🇪' } },
  ];
  const bytes = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');

  it('decodes a character split between two chunks, at every possible cut', async () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await collect(jsonLines(chunksOf(bytes, [cut])))).toEqual(events);
    }
  });

  it('decodes one byte per chunk', async () => {
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(await collect(jsonLines(chunksOf(bytes, cuts)))).toEqual(events);
  });

  it('yields a last line without a newline and skips blank lines', async () => {
    const text = Buffer.from(`\n${JSON.stringify(events[0])}\n\n${JSON.stringify(events[1])}`, 'utf8');
    expect(await collect(jsonLines(chunksOf(text, [5])))).toEqual(events);
  });
});
