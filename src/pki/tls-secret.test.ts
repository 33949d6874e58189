import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCertificate } from './certificates.ts';
import { fingerprint, isCertificateCurrent, isUsableAuthority, keyMatchesCertificate, readTlsSecret, tlsSecretData } from './tls-secret.ts';

describe('TLS Secrets', async () => {
  const ca = await createCertificateAuthority('test-ca');
  const serving = await issueServingCertificate(ca, { commonName: 'svc', dnsNames: ['svc.ns.svc'] });
  const other = await issueServingCertificate(ca, { commonName: 'other' });

  it('round-trip certificate, key and CA through kubernetes.io/tls data', () => {
    const data = tlsSecretData({ ...serving, ca: ca.certificate });
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(readTlsSecret({ data })).toEqual({ ...serving, ca: ca.certificate });
    expect(readTlsSecret({ data: tlsSecretData(serving) })).toEqual(serving);
  });

  it('are unusable without a certificate or key', () => {
    expect(readTlsSecret(undefined)).toBeUndefined();
    expect(readTlsSecret({ data: { 'tls.crt': tlsSecretData(serving)['tls.crt'] ?? '' } })).toBeUndefined();
  });

  it('tell a key that belongs to its certificate from one that does not', () => {
    expect(keyMatchesCertificate(serving)).toBe(true);
    expect(keyMatchesCertificate({ certificate: serving.certificate, privateKey: other.privateKey })).toBe(false);
    expect(keyMatchesCertificate({ certificate: 'garbage', privateKey: 'garbage' })).toBe(false);
  });

  it('keep serving a certificate only while its key matches, its CA signed it and its names are wanted', async () => {
    const wanted = { dnsNames: ['svc.ns.svc'] };
    expect(isCertificateCurrent(serving, ca.certificate, wanted)).toBe(true);
    expect(isCertificateCurrent(undefined, ca.certificate, wanted)).toBe(false);
    expect(isCertificateCurrent({ certificate: serving.certificate, privateKey: other.privateKey }, ca.certificate, wanted)).toBe(false);
    expect(isCertificateCurrent(serving, ca.certificate, { dnsNames: ['other.ns.svc'] })).toBe(false);
    const otherCa = await createCertificateAuthority('other-ca');
    expect(isCertificateCurrent(serving, otherCa.certificate, wanted)).toBe(false);
  });

  it('accept only a CA certificate with its key as an authority', () => {
    expect(isUsableAuthority(ca)).toBe(true);
    expect(isUsableAuthority(serving)).toBe(false);
    expect(isUsableAuthority({ certificate: ca.certificate, privateKey: serving.privateKey })).toBe(false);
    expect(isUsableAuthority(ca, Date.now() + 20 * 365 * 86_400_000)).toBe(false);
  });

  it('fingerprint certificates for logs', () => {
    expect(fingerprint(serving.certificate)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprint('nope')).toBe('unparsable');
  });
});
