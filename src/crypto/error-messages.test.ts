/**
 * Secrets never appear in error messages: every refusal path below is driven with known secret
 * material, and no message (nor error name or stack header) may contain it in any common encoding.
 */
import { describe, expect, it } from 'vitest';
import * as crypto from './index.ts';

const P = crypto.TEST_SCRYPT_PARAMS;
const AAD = 'space-uid-for-error-tests';

function encodings(bytes: Buffer): string[] {
  return [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('base64').replace(/=+$/, '')];
}

async function messageOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
  throw new Error('expected a refusal');
}

describe('error messages carry no secrets', () => {
  it('for keys, passwords, records, hashes, credentials and TOTP secrets', async () => {
    const password = 'Sup3r-S3cret-Passw0rd!';
    const shortPassword = 'tiny-secret';
    const dataKey = crypto.generateDataKey();
    const kek = crypto.generateDataKey();
    const wrapped = crypto.wrapKey(dataKey, kek, AAD);
    const record = await crypto.sealWithPassword(dataKey, password, AAD, P);
    const credential = crypto.generateCredential();
    const credentialHash = await crypto.hashSecret(credential, P);
    const totpSecret = crypto.generateTotpSecret();
    const badTotpSecret = `${totpSecret.slice(0, 20)}!`;
    const masterText = crypto.encodeMasterKey(crypto.generateMasterKey());

    const messages = await Promise.all([
      messageOf(() => crypto.unwrapKey(wrapped, crypto.generateDataKey(), AAD)),
      messageOf(() => crypto.unwrapKey(wrapped, kek, 'other')),
      messageOf(() => crypto.unwrapKey(`${wrapped}x`, kek, AAD)),
      messageOf(() => crypto.unwrapKey(wrapped.replace('v1.', 'v9.'), kek, AAD)),
      messageOf(() => crypto.wrapKey(dataKey.subarray(0, 31), kek, AAD)),
      messageOf(() => crypto.keyIdOf(dataKey.subarray(0, 20))),
      messageOf(() => crypto.openWithPassword(`${password}x`, record, AAD)),
      messageOf(() => crypto.openWithPassword(password, { ...record, wrappedKey: wrapped }, AAD)),
      messageOf(() => crypto.openWithPassword(password, { ...record, verifier: record.verifier.slice(4) }, AAD)),
      messageOf(() => crypto.openWithPassword(password, { ...record, kdf: { ...record.kdf, salt: `${record.kdf.salt}!` } }, AAD)),
      messageOf(() => crypto.openWithPassword(password, { ...record, kdf: { ...record.kdf, cost: 2 ** 25 } }, AAD)),
      messageOf(() => crypto.sealWithPassword(dataKey, shortPassword, AAD, P)),
      messageOf(() => crypto.decodeMasterKey(masterText.slice(0, 20))),
      messageOf(() => crypto.verifySecret(credential, credentialHash.slice(0, -2))),
      messageOf(() => crypto.verifySecret(credential, credentialHash.replace('ln=10', 'ln=31'))),
      messageOf(() => crypto.verifyTotp(badTotpSecret, '123456')),
      messageOf(() => crypto.totpUri({ issuer: 'ACME', account: 'alice', secret: badTotpSecret })),
    ]);

    const forbidden = [
      password,
      shortPassword,
      credential,
      totpSecret.slice(0, 20),
      masterText.slice(0, 20),
      wrapped.split('.')[2]!,
      record.verifier,
      record.verifier.slice(4),
      record.kdf.salt,
      credentialHash.split('$')[4]!.slice(0, 20),
      credentialHash.split('$')[3]!,
      ...encodings(dataKey),
      ...encodings(kek),
    ];
    for (const message of messages) {
      for (const secret of forbidden) expect(message).not.toContain(secret);
    }
    // The messages still say what went wrong.
    expect(messages[0]).toMatch(/^KeyIntegrityError: wrapped key failed its integrity check/);
    expect(messages[6]).toMatch(/^WrongPasswordError/);
    expect(messages[11]).toMatch(/at least 12 characters/);
  });
});

describe('public API', () => {
  it('index re-exports the documented entry points', () => {
    for (const name of [
      'generateDataKey', 'keyIdOf', 'wrapKey', 'unwrapKey', 'KeyIntegrityError',
      'generateMasterKey', 'masterKeyId', 'wrapWithMasterKey', 'unwrapWithMasterKey',
      'sealWithPassword', 'verifyPassword', 'openWithPassword', 'WrongPasswordError',
      'hashSecret', 'verifySecret', 'generateCredential', 'generateActivationCode',
      'generateTotpSecret', 'totpUri', 'verifyTotp', 'totpQrPng',
    ]) {
      expect(typeof (crypto as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
