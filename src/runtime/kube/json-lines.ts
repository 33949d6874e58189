/**
 * Newline-delimited JSON read from a byte stream, as the API server sends watch events. Chunks arrive
 * split wherever the network split them, also inside a multi-byte UTF-8 character (an Italian or German
 * customer name); a StringDecoder keeps the incomplete bytes for the next chunk instead of turning
 * each half into U+FFFD.
 */
import { StringDecoder } from 'node:string_decoder';

export async function* jsonLines<T>(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  const lines = function* (): Generator<T> {
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield JSON.parse(line) as T;
    }
  };
  for await (const chunk of chunks) {
    buffered += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    yield* lines();
  }
  buffered += decoder.end();
  yield* lines();
  const rest = buffered.trim();
  if (rest) yield JSON.parse(rest) as T;
}
