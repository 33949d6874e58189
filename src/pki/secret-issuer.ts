/**
 * Certificates the operator's CA (operator-ca.ts) issues, kept in TLS Secrets of its namespace. Every
 * replica may run this at once: a certificate is created only if absent and replaced with the
 * resourceVersion it was read at, so a replica that loses either race reads the winner's, and all
 * replicas converge on one certificate.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { getObject } from '../runtime/apply.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { isConflict } from '../runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath } from '../runtime/kube/resource-ref.ts';
import { issueServingCertificate, type PemKeyPair, type ServingCertificateRequest } from './certificates.ts';
import { isCertificateCurrent, keyMatchesCertificate, readTlsSecret, TLS_SECRET_TYPE, tlsSecretData, type TlsMaterial } from './tls-secret.ts';

/** Labels of the Secrets this module writes, so the operator can watch just those (and not its other Secrets). */
export const PKI_LABELS = { 'app.kubernetes.io/managed-by': 'tenant-backup-operator', 'app.kubernetes.io/component': 'pki' } as const;
export const PKI_SELECTOR = Object.entries(PKI_LABELS).map(([key, value]) => `${key}=${value}`).join(',');

const ATTEMPTS = 3;

function secretBody(namespace: string, name: string, material: TlsMaterial, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { ...PKI_LABELS }, ...(resourceVersion ? { resourceVersion } : {}) },
    type: TLS_SECRET_TYPE,
    data: tlsSecretData(material),
  };
}

async function createSecret(client: KubeClient, namespace: string, name: string, material: TlsMaterial): Promise<void> {
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, namespace), body: secretBody(namespace, name, material) });
}

async function replaceSecret(client: KubeClient, namespace: string, name: string, material: TlsMaterial, resourceVersion: string | undefined): Promise<void> {
  await client.request({ method: 'PUT', path: objectPath(K8S.Secret, name, namespace), body: secretBody(namespace, name, material, resourceVersion) });
}

/**
 * A serving certificate in Secret `name`, signed by `ca` for the requested names, issuing a new one
 * when it is missing, unusable, for other names, signed by another CA or in its renewal window.
 */
export async function ensureServingCertificate(client: KubeClient, namespace: string, name: string, ca: PemKeyPair, request: ServingCertificateRequest, now = Date.now()): Promise<TlsMaterial> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const existing = await getObject<V1Secret>(client, K8S.Secret, name, namespace);
    const material = readTlsSecret(existing);
    if (isCertificateCurrent(material, ca.certificate, request, now)) {
      return { ...material, ca: ca.certificate };
    }
    if (existing && existing.type !== TLS_SECRET_TYPE) {
      throw new Error(`Secret ${namespace}/${name} has type ${existing.type ?? 'Opaque'}, not ${TLS_SECRET_TYPE}; delete it to have the operator issue the certificate`);
    }
    const issued: TlsMaterial = { ...await issueServingCertificate(ca, request), ca: ca.certificate };
    try {
      if (existing) await replaceSecret(client, namespace, name, issued, existing.metadata?.resourceVersion);
      else await createSecret(client, namespace, name, issued);
      return issued;
    } catch (error) {
      if (!isConflict(error)) throw error;
      // Another replica wrote it meanwhile: look again, and use theirs if it is good.
    }
  }
  throw new Error(`could not issue the certificate in Secret ${namespace}/${name}: it kept changing under us`);
}

/** A certificate someone else (cert-manager) keeps in a TLS Secret; undefined until it is there. */
export async function readServingCertificate(client: KubeClient, namespace: string, name: string): Promise<TlsMaterial | undefined> {
  const material = readTlsSecret(await getObject<V1Secret>(client, K8S.Secret, name, namespace));
  return material && keyMatchesCertificate(material) ? material : undefined;
}
