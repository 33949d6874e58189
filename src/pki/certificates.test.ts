// First: certificates.ts loads the reflect-metadata polyfill @peculiar/x509 needs.
import { createCertificateAuthority, issueServingCertificate } from './certificates.ts';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';

describe('issueServingCertificate', () => {
  it('issues an EC serving certificate for signing only: digitalSignature, no keyEncipherment', async () => {
    const ca = await createCertificateAuthority('usage-test-ca');
    const issued = await issueServingCertificate(ca, { commonName: 'server', dnsNames: ['localhost'] });
    const certificate = new x509.X509Certificate(issued.certificate);
    const usage = certificate.getExtension(x509.KeyUsagesExtension);
    expect(usage?.critical).toBe(true);
    expect(usage?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(certificate.publicKey.algorithm.name).toBe('ECDSA');
  });
});
