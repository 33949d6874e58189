import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_PARAMS, TEST_SCRYPT_PARAMS } from './scrypt.ts';
import {
  ACTIVATION_CODE_ALPHABET,
  ACTIVATION_CODE_BITS,
  SecretHashFormatError,
  generateActivationCode,
  generateCredential,
  hashSecret,
  isSecretHash,
  normalizeActivationCode,
  parseSecretHash,
  verifySecret,
} from './secret-hash.ts';

const P = TEST_SCRYPT_PARAMS;

describe('hashSecret / verifySecret', () => {
  it('round-trips and refuses other secrets', async () => {
    const credential = generateCredential();
    const encoded = await hashSecret(credential, P);
    expect(await verifySecret(credential, encoded)).toBe(true);
    expect(await verifySecret(generateCredential(), encoded)).toBe(false);
    expect(await verifySecret(credential.slice(0, -1), encoded)).toBe(false);
    expect(await verifySecret(`${credential}x`, encoded)).toBe(false);
    expect(await verifySecret('', encoded)).toBe(false);
  });

  it('produces a PHC string whose hash is scrypt(secret, salt) with the stated parameters', async () => {
    const encoded = await hashSecret('hunter2-but-longer', P);
    expect(encoded).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const [, , , saltText, hashText] = encoded.split('$') as [string, string, string, string, string];
    const salt = Buffer.from(saltText, 'base64');
    expect(Buffer.from(hashText, 'base64')).toEqual(scryptSync('hunter2-but-longer', salt, 32, { N: 1024, r: 8, p: 1 }));
    expect(encoded).not.toContain('hunter2');
  });

  it('salts: the same secret hashes differently each time', async () => {
    const a = await hashSecret('same secret', P);
    const b = await hashSecret('same secret', P);
    expect(a).not.toBe(b);
    expect(await verifySecret('same secret', a)).toBe(true);
    expect(await verifySecret('same secret', b)).toBe(true);
  });

  it('defaults are slow: ln=15, r=8, p=1', async () => {
    expect(DEFAULT_SCRYPT_PARAMS.cost).toBeGreaterThanOrEqual(2 ** 14);
    const encoded = await hashSecret('a human password');
    expect(encoded.startsWith('$scrypt$ln=15,r=8,p=1$')).toBe(true);
    expect(await verifySecret('a human password', encoded)).toBe(true);
    expect(await verifySecret('a human passworD', encoded)).toBe(false);
  });

  it('verifies hashes made with other in-bounds parameters and other salt/hash lengths', async () => {
    const salt = Buffer.alloc(24, 3);
    const hash = scryptSync('pw', salt, 64, { N: 2048, r: 4, p: 2 });
    const encoded = `$scrypt$ln=11,r=4,p=2$${salt.toString('base64').replace(/=+$/, '')}$${hash.toString('base64').replace(/=+$/, '')}`;
    expect(await verifySecret('pw', encoded)).toBe(true);
    expect(await verifySecret('pW', encoded)).toBe(false);
  });

  it('normalises to NFC', async () => {
    const encoded = await hashSecret('café-password', P);
    expect(await verifySecret('café-password'.normalize('NFD'), encoded)).toBe(true);
  });

  it('refuses to hash an empty secret or with out-of-bounds parameters', async () => {
    await expect(hashSecret('', P)).rejects.toThrow(/must not be empty/);
    await expect(hashSecret('x', { cost: 100, blockSize: 8, parallelization: 1 })).rejects.toThrow(/cost \(N\)/);
  });
});

describe('malformed or out-of-bounds encodings throw SecretHashFormatError', () => {
  const salt = Buffer.alloc(16, 1).toString('base64').replace(/=+$/, '');
  const hash = Buffer.alloc(32, 2).toString('base64').replace(/=+$/, '');
  it.each([
    ['empty', ''],
    ['other algorithm', `$argon2id$v=19$m=65536,t=3,p=4$${salt}$${hash}`],
    ['missing hash', `$scrypt$ln=15,r=8,p=1$${salt}`],
    ['parameters reordered', `$scrypt$r=8,ln=15,p=1$${salt}$${hash}`],
    ['ln too large (memory)', `$scrypt$ln=30,r=8,p=1$${salt}$${hash}`],
    ['ln too small', `$scrypt$ln=4,r=8,p=1$${salt}$${hash}`],
    ['r too large', `$scrypt$ln=15,r=999,p=1$${salt}$${hash}`],
    ['p too large', `$scrypt$ln=15,r=8,p=99$${salt}$${hash}`],
    ['leading zero', `$scrypt$ln=015,r=8,p=1$${salt}$${hash}`],
    ['short salt', `$scrypt$ln=15,r=8,p=1$AAAA$${hash}`],
    ['short hash', `$scrypt$ln=15,r=8,p=1$${salt}$AAAA`],
    ['padded base64', `$scrypt$ln=15,r=8,p=1$${salt}==$${hash}`],
    ['base64url alphabet', `$scrypt$ln=15,r=8,p=1$${salt.replace(/A/, '-')}$${hash}`],
    ['trailing junk', `$scrypt$ln=15,r=8,p=1$${salt}$${hash}$`],
    ['non-canonical last character', `$scrypt$ln=15,r=8,p=1$${salt.slice(0, -1)}R$${hash}`],
  ])('%s', async (_what, encoded) => {
    expect(() => parseSecretHash(encoded)).toThrow(SecretHashFormatError);
    expect(isSecretHash(encoded)).toBe(false);
    await expect(verifySecret('anything', encoded)).rejects.toThrow(SecretHashFormatError);
  });

  it('accepts the well-formed control case', () => {
    expect(isSecretHash(`$scrypt$ln=15,r=8,p=1$${salt}$${hash}`)).toBe(true);
  });

  it('fails fast on huge parameters instead of deriving', async () => {
    const started = performance.now();
    await expect(verifySecret('x', `$scrypt$ln=20,r=32,p=16$${salt}$${hash}`)).rejects.toThrow(/limit/);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('generateCredential', () => {
  it('is 256 bits of URL-safe base64, different every time', () => {
    const credentials = Array.from({ length: 200 }, () => generateCredential());
    for (const c of credentials) {
      expect(c).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(c, 'base64url')).toHaveLength(32);
    }
    expect(new Set(credentials).size).toBe(credentials.length);
  });

  it('uses the whole alphabet roughly uniformly (not a constant or low-entropy source)', () => {
    const counts = new Map<string, number>();
    const text = Array.from({ length: 500 }, () => generateCredential().slice(0, 42)).join(''); // 42 full 6-bit chars each
    for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(64);
    const expected = text.length / 64; // ≈ 328
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(expected * 0.6);
      expect(n).toBeLessThan(expected * 1.4);
    }
  });
});

describe('activation codes', () => {
  it('look like XXXX-XXXX-XXXX over an unambiguous alphabet with at least 60 bits', () => {
    expect(ACTIVATION_CODE_ALPHABET).toHaveLength(32);
    expect(ACTIVATION_CODE_ALPHABET).not.toMatch(/[ILOU]/);
    expect(new Set(ACTIVATION_CODE_ALPHABET).size).toBe(32);
    expect(ACTIVATION_CODE_BITS).toBeGreaterThanOrEqual(60);
    const codes = Array.from({ length: 500 }, () => generateActivationCode());
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(new Set(codes).size).toBe(codes.length);
    const used = new Set(codes.join('').replace(/-/g, ''));
    expect(used.size).toBe(32);
  });

  it('normalise what a human types', () => {
    expect(normalizeActivationCode('7k3m-q9tx-2bwd')).toBe('7K3M-Q9TX-2BWD');
    expect(normalizeActivationCode(' 7K3M Q9TX 2BWD ')).toBe('7K3M-Q9TX-2BWD');
    expect(normalizeActivationCode('7K3MQ9TX2BWD')).toBe('7K3M-Q9TX-2BWD');
    expect(normalizeActivationCode('OIL0-0000-0000')).toBe('0110-0000-0000');
    expect(normalizeActivationCode('7K3M-Q9TX-2BW')).toBeNull();
    expect(normalizeActivationCode('7K3M-Q9TX-2BWU')).toBeNull();
    expect(normalizeActivationCode('7K3M-Q9TX-2BW!')).toBeNull();
    const code = generateActivationCode();
    expect(normalizeActivationCode(code.toLowerCase())).toBe(code);
  });

  it('are stored hashed and verified like any secret', async () => {
    const code = generateActivationCode();
    const encoded = await hashSecret(code, P);
    expect(await verifySecret(normalizeActivationCode(code.toLowerCase().replace(/-/g, ' '))!, encoded)).toBe(true);
  });
});
