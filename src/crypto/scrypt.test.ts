import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ScryptParamsError } from './errors.ts';
import {
  DEFAULT_SCRYPT_PARAMS,
  SCRYPT_BOUNDS,
  TEST_SCRYPT_PARAMS,
  deriveScrypt,
  scryptMemoryBytes,
  validateScryptParams,
} from './scrypt.ts';

describe('scrypt parameters', () => {
  it('defaults are memory-hard: N = 2^15, r = 8, p = 1, 32 MiB', () => {
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ cost: 32768, blockSize: 8, parallelization: 1 });
    expect(scryptMemoryBytes(DEFAULT_SCRYPT_PARAMS)).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    expect(validateScryptParams(DEFAULT_SCRYPT_PARAMS)).toEqual(DEFAULT_SCRYPT_PARAMS);
    expect(validateScryptParams(TEST_SCRYPT_PARAMS)).toEqual(TEST_SCRYPT_PARAMS);
  });

  it.each([
    [{ cost: 3000, blockSize: 8, parallelization: 1 }, /cost \(N\) must be a power of two/],
    [{ cost: 512, blockSize: 8, parallelization: 1 }, /cost \(N\) must be a power of two from 1024/],
    [{ cost: 2 ** 21, blockSize: 1, parallelization: 1 }, /cost \(N\)/],
    [{ cost: 2 ** 15, blockSize: 0, parallelization: 1 }, /blockSize \(r\)/],
    [{ cost: 2 ** 15, blockSize: 8.5, parallelization: 1 }, /blockSize \(r\)/],
    [{ cost: 2 ** 15, blockSize: 8, parallelization: 17 }, /parallelization \(p\)/],
    [{ cost: 2 ** 20, blockSize: 8, parallelization: 1 }, /memory limit/], // 1 GiB
    [{ cost: 2 ** 16, blockSize: 8, parallelization: 16 }, /work limit/],
    [{ cost: '32768', blockSize: 8, parallelization: 1 }, /cost \(N\)/],
    [null, /expected an object/],
  ])('refuses %j', (params, message) => {
    expect(() => validateScryptParams(params)).toThrow(ScryptParamsError);
    expect(() => validateScryptParams(params)).toThrow(message);
  });

  it('names the source of the parameters in errors', () => {
    expect(() => validateScryptParams({ cost: 1, blockSize: 1, parallelization: 1 }, 'record kdf')).toThrow(/^record kdf: /);
  });

  it('accepts the largest parameters within the limits, and drops unknown fields', () => {
    const max = { cost: 2 ** 17, blockSize: 8, parallelization: 1, extra: true };
    expect(scryptMemoryBytes(max)).toBeLessThanOrEqual(SCRYPT_BOUNDS.maxMemoryBytes);
    expect(validateScryptParams(max)).toEqual({ cost: 2 ** 17, blockSize: 8, parallelization: 1 });
    // One step up (2^18 · 8 · 128 = 256 MiB, plus OpenSSL's p + 2 blocks) is over the limit.
    expect(() => validateScryptParams({ cost: 2 ** 18, blockSize: 8, parallelization: 1 })).toThrow(/memory limit/);
  });
});

describe('deriveScrypt', () => {
  it('matches RFC 7914 §12 test vector 2', () => {
    // RFC 7914 vector: P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64.
    const expected =
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162' +
      '2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640';
    return deriveScrypt('password', Buffer.from('NaCl'), 64, { cost: 1024, blockSize: 8, parallelization: 16 }).then((dk) =>
      expect(dk.toString('hex')).toBe(expected),
    );
  });

  it('agrees with scryptSync and refuses out-of-bounds parameters before deriving', async () => {
    const salt = Buffer.alloc(16, 1);
    const dk = await deriveScrypt('pw', salt, 32, TEST_SCRYPT_PARAMS);
    expect(dk).toEqual(scryptSync('pw', salt, 32, { N: 1024, r: 8, p: 1 }));
    await expect(deriveScrypt('pw', salt, 32, { cost: 2 ** 20, blockSize: 16, parallelization: 1 })).rejects.toThrow(
      ScryptParamsError,
    );
  });
});
