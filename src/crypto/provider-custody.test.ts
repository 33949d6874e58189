import { describe, expect, it } from 'vitest';
import { generateDataKey, keyIdOf } from './data-key.ts';
import { InvalidKeyEncodingError, KeyIntegrityError } from './errors.ts';
import {
  decodeMasterKey,
  encodeMasterKey,
  generateMasterKey,
  masterKeyId,
  unwrapWithMasterKey,
  wrapWithMasterKey,
} from './provider-custody.ts';

const AAD = '5d3f1c8e-2b7a-4e61-a0c9-7f2e8d1b3a44';

describe('provider custody', () => {
  it('wraps and unwraps a data key under the master key', () => {
    const master = generateMasterKey();
    const dataKey = generateDataKey();
    const wrapped = wrapWithMasterKey(dataKey, master, AAD);
    expect(wrapped.startsWith('v1.')).toBe(true);
    expect(unwrapWithMasterKey(wrapped, master, AAD)).toEqual(dataKey);
  });

  it('refuses another master key and another space', () => {
    const master = generateMasterKey();
    const wrapped = wrapWithMasterKey(generateDataKey(), master, AAD);
    expect(() => unwrapWithMasterKey(wrapped, generateMasterKey(), AAD)).toThrow(KeyIntegrityError);
    expect(() => unwrapWithMasterKey(wrapped, master, 'another-uid')).toThrow(KeyIntegrityError);
  });

  it('names master keys with an id distinct from a data key id of the same bytes', () => {
    const master = generateMasterKey();
    expect(master).toHaveLength(32);
    expect(masterKeyId(master)).toMatch(/^m1-[0-9a-f]{16}$/);
    expect(masterKeyId(master)).toBe(masterKeyId(Buffer.from(master)));
    expect(masterKeyId(master).slice(3)).not.toBe(keyIdOf(master).slice(3));
    expect(masterKeyId(generateMasterKey())).not.toBe(masterKeyId(master));
  });

  it('encodes to base64 and decodes strictly, tolerating a trailing newline', () => {
    const master = generateMasterKey();
    const text = encodeMasterKey(master);
    expect(decodeMasterKey(text)).toEqual(master);
    expect(decodeMasterKey(`${text}\n`)).toEqual(master);
  });

  it.each([
    ['too short', Buffer.alloc(16).toString('base64')],
    ['too long', Buffer.alloc(33).toString('base64')],
    ['not base64', 'this is not a key at all!!'],
    ['base64url', Buffer.alloc(32, 0xfb).toString('base64url')],
    ['empty', ''],
  ])('refuses a master key text that is %s, without echoing it', (_what, text) => {
    expect(() => decodeMasterKey(text)).toThrow(InvalidKeyEncodingError);
    try {
      decodeMasterKey(text);
    } catch (err) {
      if (text.length > 0) expect((err as Error).message).not.toContain(text);
    }
  });
});
