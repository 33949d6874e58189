/**
 * Errors thrown by src/crypto. Every message names the rule or the field that failed and never the
 * secret involved: no password, key byte, credential, salt, verifier or wrapped key text appears in a
 * message, so errors can be logged and surfaced in status conditions as they are.
 */

/** Base class, so callers can tell our refusals from unexpected failures. */
export class CryptoError extends Error {
  override readonly name: string = 'CryptoError';
}

/**
 * A wrapped key could not be unwrapped: it was altered, it is bound to another context (different
 * associated data, e.g. moved to another space), or the key-encryption key is wrong. AES-GCM cannot
 * tell these apart, and neither do we.
 */
export class KeyIntegrityError extends CryptoError {
  override readonly name: string = 'KeyIntegrityError';
  readonly reason: 'malformed' | 'unsupported-version' | 'authentication-failed';
  constructor(reason: KeyIntegrityError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The customer's password does not match the verifier of a customer key record. */
export class WrongPasswordError extends CryptoError {
  override readonly name: string = 'WrongPasswordError';
  constructor() {
    super('wrong password: it does not match the verifier of the customer key record');
  }
}

/** A password was refused by the password policy (sealing only). */
export class PasswordPolicyError extends CryptoError {
  override readonly name: string = 'PasswordPolicyError';
}

/** A customer key record (as read back from a Secret) is malformed or out of bounds. */
export class InvalidKeyRecordError extends CryptoError {
  override readonly name: string = 'InvalidKeyRecordError';
}

/** scrypt parameters outside the accepted bounds (from a caller or read back from storage). */
export class ScryptParamsError extends CryptoError {
  override readonly name: string = 'ScryptParamsError';
}

/** An encoded secret hash (`$scrypt$...`) is malformed or out of bounds. */
export class SecretHashFormatError extends CryptoError {
  override readonly name: string = 'SecretHashFormatError';
}

/** A key given as text (e.g. the master key from a Secret) is not base64 of the right length. */
export class InvalidKeyEncodingError extends CryptoError {
  override readonly name: string = 'InvalidKeyEncodingError';
}

/** A TOTP secret is not valid base32 or is too short. */
export class InvalidTotpSecretError extends CryptoError {
  override readonly name: string = 'InvalidTotpSecretError';
}
