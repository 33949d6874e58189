/**
 * The credentials and certificates step: the maintenance and report-token credentials the gateway
 * checks against (issued once, never replaced), and the gateway's TLS certificate for its Service
 * names and fixed address, signed by the operator's CA and renewed before it expires.
 */
import type { PemKeyPair } from '../../pki/certificates.ts';
import { createObjectOnce } from '../../runtime/apply.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { ensureApplied, type ControllerContext } from '../context.ts';
import { CREDENTIAL_HASH_ANNOTATION } from '../labels.ts';
import { MAINTENANCE_USER } from './access-config.ts';
import type { Secret } from './keys.ts';
import { credentialSecret, gatewayTlsSecret } from './secrets.ts';
import { proceed, secretOf, wait, type ProvisionFacts, type SpaceCaches, type StepResult } from './step.ts';

/** The slow hash of an issued credential, as its Secret's annotation carries it. */
export const credentialHashOf = (secret: Secret | undefined): string | undefined => secret?.metadata.annotations?.[CREDENTIAL_HASH_ANNOTATION];

export async function ensureCredentials(ctx: ControllerContext, caches: SpaceCaches, certificateAuthority: () => Promise<PemKeyPair>, facts: ProvisionFacts, address: string | undefined): Promise<StepResult<{ reportTokenHash: string }>> {
  const { space, namespace, names, tenantName } = facts;
  for (const [name, type, username] of [[names.maintenanceSecret, 'maintenance-credentials', MAINTENANCE_USER], [names.reportTokenSecret, 'report-token', 'operator']] as const) {
    if (!secretOf(caches, namespace, name)) await createObjectOnce(ctx.client, K8S.Secret, namespace, await credentialSecret(space, tenantName, name, type, username));
  }
  // Made just now: the cache shows it in a moment.
  const reportTokenHash = credentialHashOf(secretOf(caches, namespace, names.reportTokenSecret));
  if (!reportTokenHash) return wait(500);

  const tls = await gatewayTlsSecret(space, tenantName, address, await certificateAuthority(), secretOf(caches, namespace, names.tlsSecret));
  if (tls) await ensureApplied(ctx, K8S.Secret, tls, undefined);
  return proceed({ reportTokenHash });
}
