import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KEY_BYTES, assertKey, generateDataKey, keyIdOf } from './data-key.ts';

describe('generateDataKey', () => {
  it('returns 32 fresh random bytes each time', () => {
    const keys = Array.from({ length: 64 }, () => generateDataKey());
    for (const key of keys) expect(key).toHaveLength(KEY_BYTES);
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(keys.length);
    // Not a constant fill: a random 32-byte key has many distinct byte values.
    expect(new Set(keys[0]!).size).toBeGreaterThan(16);
  });
});

describe('keyIdOf', () => {
  it('is stable, prefixed, 16 hex digits', () => {
    const key = generateDataKey();
    expect(keyIdOf(key)).toBe(keyIdOf(Buffer.from(key)));
    expect(keyIdOf(key)).toMatch(/^k1-[0-9a-f]{16}$/);
  });

  it('is HMAC-SHA256(key, label), not a prefix or plain hash of the key', () => {
    const key = Buffer.alloc(32, 7);
    const expected = createHmac('sha256', key).update('tenantbackup.io/key-id').digest('hex').slice(0, 16);
    expect(keyIdOf(key)).toBe(`k1-${expected}`);
    expect(keyIdOf(key)).not.toContain(key.toString('hex').slice(0, 8));
  });

  it('differs between keys', () => {
    const ids = new Set(Array.from({ length: 100 }, () => keyIdOf(generateDataKey())));
    expect(ids.size).toBe(100);
  });

  it('refuses keys of the wrong length without printing them', () => {
    const short = Buffer.from('secret-ish-bytes');
    expect(() => keyIdOf(short)).toThrow(RangeError);
    expect(() => keyIdOf(short)).toThrow(/exactly 32 bytes \(got 16\)/);
    expect(() => assertKey('x'.repeat(32), 'data key')).toThrow(TypeError);
  });
});
