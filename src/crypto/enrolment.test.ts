import { describe, expect, it } from 'vitest';
import { openEnrolment, sealEnrolment, validateEnrolmentSeal } from './enrolment.ts';
import { InvalidKeyRecordError } from './errors.ts';
import { TEST_SCRYPT_PARAMS } from './scrypt.ts';
import { generateActivationCode, generateCredential } from './secret-hash.ts';

const AAD = 'tenant-acme/laptop-01';

describe('enrolment seal', () => {
  it('opens with its code, typed loosely, and gives the credential back', async () => {
    const credential = generateCredential();
    const code = generateActivationCode();
    const seal = await sealEnrolment(credential, code, AAD, TEST_SCRYPT_PARAMS);
    expect(JSON.stringify(seal)).not.toContain(credential);
    expect(await openEnrolment(seal, code, AAD)).toBe(credential);
    expect(await openEnrolment(seal, ` ${code.toLowerCase().replace(/-/g, ' ')} `, AAD)).toBe(credential);
  });

  it('refuses another code, a malformed code and another endpoint', async () => {
    const credential = generateCredential();
    const code = generateActivationCode();
    const seal = await sealEnrolment(credential, code, AAD, TEST_SCRYPT_PARAMS);
    let other = generateActivationCode();
    while (other === code) other = generateActivationCode();
    expect(await openEnrolment(seal, other, AAD)).toBeNull();
    expect(await openEnrolment(seal, 'not-a-code', AAD)).toBeNull();
    expect(await openEnrolment(seal, code, 'tenant-acme/laptop-02')).toBeNull();
  });

  it('refuses malformed seals naming the field, without echoing values', async () => {
    const seal = await sealEnrolment(generateCredential(), generateActivationCode(), AAD, TEST_SCRYPT_PARAMS);
    expect(() => validateEnrolmentSeal({ ...seal, kdf: { ...seal.kdf, cost: 2 ** 30 } })).toThrow(InvalidKeyRecordError);
    expect(() => validateEnrolmentSeal({ ...seal, kdf: { ...seal.kdf, salt: 'AAAA' } })).toThrow(/kdf\.salt/);
    expect(() => validateEnrolmentSeal({ kdf: seal.kdf })).toThrow(/wrappedCredential/);
    expect(validateEnrolmentSeal(seal)).toEqual(seal);
  });
});
