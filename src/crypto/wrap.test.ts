import { describe, expect, it } from 'vitest';
import { generateDataKey } from './data-key.ts';
import { KeyIntegrityError, WRAP_VERSION, unwrapKey, wrapKey } from './wrap.ts';

const AAD = 'space-uid-0b5e6f0e-6a0b-4d1c-9d61-2c1f5b9a3e77';

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** Flips one bit of the decoded part `index` (1 = nonce, 2 = ciphertext‖tag) at byte `at`. */
function flip(wrapped: string, index: 1 | 2, at: number): string {
  const parts = wrapped.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[at < 0 ? bytes.length + at : at]! ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('wrapKey / unwrapKey', () => {
  const dataKey = generateDataKey();
  const kek = generateDataKey();

  it('round-trips', () => {
    const wrapped = wrapKey(dataKey, kek, AAD);
    expect(unwrapKey(wrapped, kek, AAD)).toEqual(dataKey);
  });

  it('produces v1.<16-char nonce>.<64-char body> in base64url, never containing the key', () => {
    const wrapped = wrapKey(dataKey, kek, AAD);
    expect(wrapped).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{64}$/);
    expect(WRAP_VERSION).toBe('v1');
    const body = Buffer.from(wrapped.split('.')[2]!, 'base64url');
    expect(body.subarray(0, 32).equals(dataKey)).toBe(false);
    expect(wrapped).not.toContain(dataKey.toString('base64url'));
  });

  it('uses a fresh nonce per wrap', () => {
    const wrappings = Array.from({ length: 50 }, () => wrapKey(dataKey, kek, AAD));
    const nonces = new Set(wrappings.map((w) => w.split('.')[1]));
    expect(nonces.size).toBe(50);
    expect(new Set(wrappings).size).toBe(50);
    for (const w of wrappings) expect(unwrapKey(w, kek, AAD)).toEqual(dataKey);
  });

  it.each([
    ['nonce', 1, 0],
    ['nonce (last byte)', 1, -1],
    ['ciphertext', 2, 0],
    ['ciphertext (last key byte)', 2, 31],
    ['tag', 2, 32],
    ['tag (last byte)', 2, -1],
  ] as const)('detects a tampered %s', (_what, index, at) => {
    const wrapped = wrapKey(dataKey, kek, AAD);
    const tampered = flip(wrapped, index, at);
    expect(tampered).not.toBe(wrapped);
    const err = catchError(() => unwrapKey(tampered, kek, AAD));
    expect(err).toBeInstanceOf(KeyIntegrityError);
    expect((err as KeyIntegrityError).reason).toBe('authentication-failed');
  });

  it('detects a different AAD (the key moved to another space)', () => {
    const wrapped = wrapKey(dataKey, kek, AAD);
    expect(() => unwrapKey(wrapped, kek, `${AAD}x`)).toThrow(KeyIntegrityError);
    expect(() => unwrapKey(wrapped, kek, 'other-space-uid')).toThrow(KeyIntegrityError);
  });

  it('detects a wrong KEK', () => {
    const wrapped = wrapKey(dataKey, kek, AAD);
    const wrongKek = Buffer.from(kek);
    wrongKek[0]! ^= 0x80;
    expect(() => unwrapKey(wrapped, wrongKek, AAD)).toThrow(KeyIntegrityError);
    expect(() => unwrapKey(wrapped, generateDataKey(), AAD)).toThrow(KeyIntegrityError);
  });

  it.each([
    ['empty', ''],
    ['no version', 'AAAA.BBBB'],
    ['other version', 'v2.AAAAAAAAAAAAAAAA.AAAA'],
    ['missing part', 'v1.AAAAAAAAAAAAAAAA'],
    ['extra part', 'v1.AAAAAAAAAAAAAAAA.AAAA.AAAA'],
    ['short nonce', `v1.AAAAAAAA.${'A'.repeat(64)}`],
    ['short body', `v1.${'A'.repeat(16)}.${'A'.repeat(60)}`],
    ['padding', `v1.${'A'.repeat(16)}.${'A'.repeat(64)}==`],
    ['standard alphabet', `v1.${'A'.repeat(15)}+.${'A'.repeat(64)}`],
  ])('refuses a malformed string (%s) as KeyIntegrityError', (_what, text) => {
    expect(() => unwrapKey(text, kek, AAD)).toThrow(KeyIntegrityError);
  });

  it('refuses trailing junk and whitespace that a lenient base64 decoder would skip', () => {
    const wrapped = wrapKey(dataKey, kek, AAD);
    const [v, nonce, body] = wrapped.split('.') as [string, string, string];
    expect(() => unwrapKey(`${v}.${nonce}.${body}A`, kek, AAD)).toThrow(KeyIntegrityError);
    expect(() => unwrapKey(`${v}.${nonce} .${body}`, kek, AAD)).toThrow(KeyIntegrityError);
  });

  it('binds the AAD with a fixed prefix: a wrap for one AAD never opens under another', () => {
    const wrapped = wrapKey(dataKey, kek, 'a');
    expect(() => unwrapKey(wrapped, kek, 'a\n')).toThrow(KeyIntegrityError);
    expect(() => unwrapKey(wrapped, kek, 'A')).toThrow(KeyIntegrityError);
  });

  it('refuses wrong-sized keys and an empty AAD as programming errors', () => {
    expect(() => wrapKey(dataKey.subarray(0, 16), kek, AAD)).toThrow(RangeError);
    expect(() => wrapKey(dataKey, kek.subarray(0, 31), AAD)).toThrow(RangeError);
    expect(() => wrapKey(dataKey, kek, '')).toThrow(/aad must be a non-empty string/);
    expect(() => unwrapKey(wrapKey(dataKey, kek, AAD), kek.subarray(1), AAD)).toThrow(RangeError);
  });
});
