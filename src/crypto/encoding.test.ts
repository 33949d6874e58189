import { describe, expect, it } from 'vitest';
import {
  fromBase64Strict,
  fromBase64UnpaddedStrict,
  fromBase64UrlStrict,
  toBase64,
  toBase64Unpadded,
  toBase64Url,
} from './encoding.ts';

describe('strict base64 decoding', () => {
  const samples = [0, 1, 2, 3, 16, 31, 32, 48].map((n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff)));

  it('round-trips every length in all three encodings', () => {
    for (const bytes of samples) {
      expect(fromBase64UrlStrict(toBase64Url(bytes))).toEqual(bytes);
      expect(fromBase64Strict(toBase64(bytes))).toEqual(bytes);
      expect(fromBase64UnpaddedStrict(toBase64Unpadded(bytes))).toEqual(bytes);
    }
  });

  it('encodes only the bytes of a view, not its whole backing buffer', () => {
    const backing = Buffer.from('0123456789');
    expect(toBase64Url(backing.subarray(2, 5))).toBe(Buffer.from('234').toString('base64url'));
  });

  it('refuses characters of the other alphabet, padding where none belongs, and junk', () => {
    expect(fromBase64UrlStrict('ab+c')).toBeNull();
    expect(fromBase64UrlStrict('abc=')).toBeNull();
    expect(fromBase64UrlStrict('ab c')).toBeNull();
    expect(fromBase64Strict('ab-_')).toBeNull();
    expect(fromBase64Strict('abc')).toBeNull(); // padding missing
    expect(fromBase64Strict('ab\ncd==')).toBeNull();
    expect(fromBase64UnpaddedStrict('abc=')).toBeNull();
    expect(fromBase64UnpaddedStrict('abcde')).toBeNull(); // 5 chars cannot be unpadded base64
  });

  it('refuses non-canonical trailing bits that Buffer.from would silently accept', () => {
    const canonical = toBase64Url(Buffer.from([0xff])); // "_w"
    expect(canonical).toBe('_w');
    expect(Buffer.from('_x', 'base64url')).toEqual(Buffer.from([0xff])); // lenient decoder: same bytes
    expect(fromBase64UrlStrict('_x')).toBeNull();
    expect(fromBase64Strict('/x==')).toBeNull();
    expect(fromBase64UnpaddedStrict('/x')).toBeNull();
  });
});
