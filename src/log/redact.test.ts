import { describe, expect, it } from 'vitest';
import { REDACTED } from './logger.ts';
import { redactText } from './redact.ts';

const planted = 'planted-secret-value-7f3a';

describe('redactText', () => {
  it.each([
    ['a URL with credentials', `GET https://admin:${planted}@gw.tenant-acme.svc:8443/v1/report: connect ECONNREFUSED`],
    ['a URL with a token as its user', `git clone https://${planted}@github.com/acme/backup`],
    ['a bearer header', `request refused (Authorization: Bearer ${planted})`],
    ['a basic header', `sent Basic ${Buffer.from(`admin:${planted}`).toString('base64')}`],
    ['name=value', `POST /v1/unseal failed: password=${planted}&totp=123456`],
    ['name: value', `config rejected: accessToken: ${planted}`],
    ['a JSON field', `422: {"kind":"Status","message":"invalid","secretAccessKey":"${planted}"}`],
    ['a single-quoted value', `passphrase='${planted} with spaces'`],
    ['Secret data echoed', `Secret "vault-credentials" is invalid: data: ${planted}`],
    ['a PEM block', `cannot parse -----BEGIN PRIVATE KEY-----\n${planted}\n-----END PRIVATE KEY----- as PKCS#8`],
    ['a truncated PEM block', `cannot parse -----BEGIN EC PRIVATE KEY-----\n${planted}`],
    ['an otpauth URI', `enrolment: otpauth://totp/acme:anna?secret=${planted}&issuer=acme`],
  ])('censors %s', (_what, text) => {
    const redacted = redactText(text);
    expect(redacted).not.toContain(planted);
    expect(redacted).toContain(REDACTED);
  });

  it('censors what looks like a key or token without a label', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl';
    const key = 'q8Zr3LmN0pVx7TbW2yKc5HdF9sJg4AeU1oIi6RtYwEk=';
    expect(redactText(`unexpected reply ${jwt}`)).toBe(`unexpected reply ${REDACTED}`);
    expect(redactText(`key record ${key} does not decrypt`)).toBe(`key record ${REDACTED} does not decrypt`);
  });

  it('keeps what an operator needs to read: names, paths, UIDs, codes', () => {
    const text = 'PATCH /apis/tenantbackup.io/v1alpha1/namespaces/tenant-acme/backupspaces/vault-primary-long-name-0123/status: 409 Conflict: uid 3f2c1d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f; connect ECONNREFUSED 10.96.0.1:443';
    expect(redactText(text)).toBe(text);
  });
});
