/**
 * The operator's own certificate authority, kept in a Secret of its namespace (created once, shared
 * by every replica): it signs the webhook's and the gateways' serving certificates.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { KubeClient } from '../runtime/kube/client.ts';
import { isApiError } from '../runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath } from '../runtime/kube/resource-ref.ts';
import { createCertificateAuthority, type PemKeyPair } from './certificates.ts';

export const OPERATOR_CA_SECRET = 'tenant-backup-operator-ca';

function decode(secret: V1Secret, key: string): string | undefined {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Reads the CA, creating it if no replica has yet; concurrent creators converge on the first one stored. */
export async function loadOrCreateOperatorCa(client: KubeClient, namespace: string): Promise<PemKeyPair> {
  try {
    const secret = await client.request<V1Secret>({ method: 'GET', path: objectPath(K8S.Secret, OPERATOR_CA_SECRET, namespace) });
    const certificate = decode(secret, 'tls.crt');
    const privateKey = decode(secret, 'tls.key');
    if (certificate && privateKey) return { certificate, privateKey };
    throw new Error(`Secret ${namespace}/${OPERATOR_CA_SECRET} has no tls.crt/tls.key`);
  } catch (error) {
    if (!isApiError(error, 404)) throw error;
  }
  const ca = await createCertificateAuthority('tenant-backup-operator-ca');
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  try {
    await client.request({
      method: 'POST',
      path: collectionPath(K8S.Secret, namespace),
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: OPERATOR_CA_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'tenant-backup-operator' } },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64(ca.certificate), 'tls.key': b64(ca.privateKey), 'ca.crt': b64(ca.certificate) },
      },
    });
  } catch (error) {
    if (isApiError(error, 409)) return loadOrCreateOperatorCa(client, namespace);
    throw error;
  }
  return ca;
}

/** Caches the CA for the process; it is read again only if loading failed. */
export function operatorCaProvider(client: KubeClient, namespace: string): () => Promise<PemKeyPair> {
  let pending: Promise<PemKeyPair> | undefined;
  return () => {
    pending ??= loadOrCreateOperatorCa(client, namespace).catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
