/** The two places a serving certificate can come from (see CertificateKeeper). */
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ServingCertificateRequest } from './certificates.ts';
import type { CertificateSource } from './certificate-keeper.ts';
import { loadOrCreateOperatorCa, OPERATOR_CA_SECRET } from './operator-ca.ts';
import { ensureServingCertificate, readServingCertificate } from './secret-issuer.ts';
import { isUsableAuthority } from './tls-secret.ts';

export interface IssuedSourceOptions {
  namespace: string;
  secretName: string;
  request: ServingCertificateRequest;
}

/**
 * The operator is its own issuer: its CA (created once) signs the certificate, renewed in time. The CA
 * is read again at every check, so a CA replaced by hand leads to a re-issued certificate and a new
 * CA bundle rather than to a webhook the API server no longer trusts.
 */
export function operatorIssuedSource(client: KubeClient, options: IssuedSourceOptions): CertificateSource {
  return {
    description: `operator CA ${options.namespace}/${OPERATOR_CA_SECRET} → Secret ${options.namespace}/${options.secretName}`,
    async refresh() {
      const ca = await loadOrCreateOperatorCa(client, options.namespace);
      if (!isUsableAuthority(ca)) {
        throw new Error(`Secret ${options.namespace}/${OPERATOR_CA_SECRET} does not hold a usable CA (a CA certificate, not expired, with its key); delete it to have the operator create a new one`);
      }
      return ensureServingCertificate(client, options.namespace, options.secretName, ca, options.request);
    },
  };
}

/**
 * cert-manager issues and renews the certificate into a TLS Secret; the operator only reads it
 * (undefined until cert-manager has written it).
 */
export function secretSource(client: KubeClient, namespace: string, secretName: string): CertificateSource {
  return {
    description: `cert-manager Secret ${namespace}/${secretName}`,
    refresh: () => readServingCertificate(client, namespace, secretName),
  };
}
