/**
 * The operator's own certificate authority, kept in a Secret of its namespace (created once, shared
 * by every replica): it signs the webhook's and the gateways' serving certificates.
 */
import type { KubeClient } from '../runtime/kube/client.ts';
import { readOrCreateSecret } from '../runtime/kube/secrets.ts';
import { loadOnce } from '../runtime/once.ts';
import { createCertificateAuthority, type PemKeyPair } from './certificates.ts';
import { readTlsSecret, TLS_SECRET_TYPE, tlsSecretData } from './tls-secret.ts';

export const OPERATOR_CA_SECRET = 'tenant-backup-operator-ca';

/** Reads the CA, creating it if no replica has yet; concurrent creators converge on the first one stored. */
export async function loadOrCreateOperatorCa(client: KubeClient, namespace: string): Promise<PemKeyPair> {
  const secret = await readOrCreateSecret(client, namespace, OPERATOR_CA_SECRET, async () => {
    const ca = await createCertificateAuthority('tenant-backup-operator-ca');
    return {
      metadata: { labels: { 'app.kubernetes.io/managed-by': 'tenant-backup-operator' } },
      type: TLS_SECRET_TYPE,
      data: tlsSecretData({ ...ca, ca: ca.certificate }),
    };
  });
  const material = readTlsSecret(secret);
  if (!material) throw new Error(`Secret ${namespace}/${OPERATOR_CA_SECRET} has no tls.crt/tls.key`);
  return { certificate: material.certificate, privateKey: material.privateKey };
}

/** Caches the CA for the process; it is read again only if loading failed. */
export function operatorCaProvider(client: KubeClient, namespace: string): () => Promise<PemKeyPair> {
  return loadOnce(() => loadOrCreateOperatorCa(client, namespace));
}
