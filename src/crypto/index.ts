/** Public API of src/crypto: key generation, wrapping, custody, KDF, secret hashes, TOTP. */
export {
  CryptoError,
  InvalidKeyEncodingError,
  InvalidKeyRecordError,
  InvalidTotpSecretError,
  KeyIntegrityError,
  PasswordPolicyError,
  ScryptParamsError,
  SecretHashFormatError,
  WrongPasswordError,
} from './errors.ts';
export { KEY_BYTES, generateDataKey, keyIdOf } from './data-key.ts';
export { WRAP_VERSION, unwrapKey, wrapKey } from './wrap.ts';
export {
  DEFAULT_SCRYPT_PARAMS,
  SCRYPT_BOUNDS,
  TEST_SCRYPT_PARAMS,
  scryptMemoryBytes,
  validateScryptParams,
  type ScryptParams,
} from './scrypt.ts';
export {
  decodeMasterKey,
  encodeMasterKey,
  generateMasterKey,
  masterKeyId,
  unwrapWithMasterKey,
  wrapWithMasterKey,
} from './provider-custody.ts';
export {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  checkPasswordPolicy,
  openWithPassword,
  sealWithPassword,
  validateCustomerKeyRecord,
  verifyPassword,
  type CustomerKeyRecord,
} from './customer-custody.ts';
export { openEnrolment, sealEnrolment, validateEnrolmentSeal, type EnrolmentSeal } from './enrolment.ts';
export {
  ACTIVATION_CODE_ALPHABET,
  ACTIVATION_CODE_BITS,
  CREDENTIAL_BYTES,
  generateActivationCode,
  generateCredential,
  hashSecret,
  isSecretHash,
  normalizeActivationCode,
  parseSecretHash,
  verifySecret,
  type ParsedSecretHash,
} from './secret-hash.ts';
export {
  TOTP_ALGORITHM,
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
  generateTotpSecret,
  totpQrPng,
  totpTimeStep,
  totpUri,
  verifyTotp,
  type TotpUriInput,
  type VerifyTotpOptions,
} from './totp.ts';
