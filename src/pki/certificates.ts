/**
 * X.509 for the operator's own TLS endpoints (webhook, metrics, gateways): a private CA and serving
 * certificates it issues, with ECDSA P-256 keys from Node's WebCrypto. cert-manager can replace all of
 * it; this is what makes the operator work without it.
 */
import 'reflect-metadata';
import { webcrypto, X509Certificate, randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface PemKeyPair {
  certificate: string;
  privateKey: string;
}

function serialNumber(): string {
  // Positive 128-bit serial (top bit cleared), as RFC 5280 asks for unpredictable serials.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function exportPrivateKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

export async function createCertificateAuthority(commonName: string, validityDays = 3650): Promise<PemKeyPair> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + validityDays * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate: `${certificate.toString('pem').trim()}\n`, privateKey: await exportPrivateKey(keys.privateKey) };
}

export interface ServingCertificateRequest {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  validityDays?: number;
}

export async function issueServingCertificate(ca: PemKeyPair, request: ServingCertificateRequest): Promise<PemKeyPair> {
  const caCertificate = new x509.X509Certificate(ca.certificate);
  const caKey = await importPrivateKey(ca.privateKey);
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const names = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${request.commonName}`,
    issuer: caCertificate.subject,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + (request.validityDays ?? 365) * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // An EC key signs the handshake; it never encrypts a key (that is RSA key transport), so no
      // keyEncipherment (RFC 8813 §3).
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate),
    ],
  });
  return { certificate: `${certificate.toString('pem').trim()}\n`, privateKey: await exportPrivateKey(keys.privateKey) };
}

/**
 * True when the certificate should be replaced: unparsable, not signed by this CA, expiring within
 * the renewal window (a third of its lifetime, like cert-manager's default), or missing a name.
 */
export function needsRenewal(certificatePem: string, caPem: string, wanted: { dnsNames?: string[]; ipAddresses?: string[] }, now = Date.now()): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
    if (!certificate.verify(new X509Certificate(caPem).publicKey)) return true;
  } catch {
    return true;
  }
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  if (now > notAfter - (notAfter - notBefore) / 3) return true;
  const san = certificate.subjectAltName ?? '';
  return [
    ...(wanted.dnsNames ?? []).map((n) => `DNS:${n}`),
    ...(wanted.ipAddresses ?? []).map((ip) => `IP Address:${ip}`),
  ].some((entry) => !san.split(', ').includes(entry));
}
