/**
 * Certificates kept in `kubernetes.io/tls` Secrets (tls.crt, tls.key, ca.crt), the format cert-manager,
 * ingress controllers and kubectl create secret tls all use, so either side can read the other's.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { needsRenewal, type PemKeyPair } from './certificates.ts';
import { base64, secretField } from '../runtime/kube/secrets.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export interface TlsMaterial extends PemKeyPair {
  /** The issuing CA's certificate (ca.crt), when the Secret has one. */
  ca?: string;
}


/** The certificate, key and CA of a TLS Secret, or undefined when the certificate or key is missing. */
export function readTlsSecret(secret: V1Secret | undefined): TlsMaterial | undefined {
  const certificate = secretField(secret, 'tls.crt');
  const privateKey = secretField(secret, 'tls.key');
  if (!certificate || !privateKey) return undefined;
  const ca = secretField(secret, 'ca.crt');
  return { certificate, privateKey, ...(ca ? { ca } : {}) };
}

export function tlsSecretData(material: TlsMaterial): Record<string, string> {
  return {
    'tls.crt': base64(material.certificate),
    'tls.key': base64(material.privateKey),
    ...(material.ca ? { 'ca.crt': base64(material.ca) } : {}),
  };
}

/** True when the key belongs to the certificate: a Secret half-written or edited by hand is not used. */
export function keyMatchesCertificate(material: PemKeyPair): boolean {
  try {
    return new X509Certificate(material.certificate).checkPrivateKey(createPrivateKey(material.privateKey));
  } catch {
    return false;
  }
}

/**
 * True when a kept certificate can go on being served: its key matches, and it needs no renewal
 * (signed by this CA, for these names, outside its renewal window).
 */
export function isCertificateCurrent(material: TlsMaterial | undefined, caPem: string, wanted: { dnsNames?: string[]; ipAddresses?: string[] }, now = Date.now()): material is TlsMaterial {
  return material !== undefined && keyMatchesCertificate(material) && !needsRenewal(material.certificate, caPem, wanted, now);
}

/** True when the pair is a usable certificate authority: a CA certificate, its key, not expired. */
export function isUsableAuthority(material: PemKeyPair, now = Date.now()): boolean {
  try {
    const certificate = new X509Certificate(material.certificate);
    return certificate.ca && Date.parse(certificate.validTo) > now && keyMatchesCertificate(material);
  } catch {
    return false;
  }
}

/** SHA-256 fingerprint of a PEM certificate, to log which one is served without logging it. */
export function fingerprint(certificatePem: string): string {
  try {
    return new X509Certificate(certificatePem).fingerprint256;
  } catch {
    return 'unparsable';
  }
}
