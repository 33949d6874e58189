/**
 * The access-configuration step: render who may use the gateway (devices, people, maintenance, the
 * operator's report token) with the space's key custody into the gateway's configuration Secret,
 * and the volume's encryption Secret beside it.
 */
import type { BackupSpace } from '../../api/types.ts';
import { CONTENT_TYPE } from '../../runtime/kube/client.ts';
import { K8S, objectPath } from '../../runtime/kube/resource-ref.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import { enrolledUsers } from '../access/desired.ts';
import { ensureApplied, type ControllerContext } from '../context.ts';
import { enrolmentOf, repositoryPathOf } from '../endpoint/desired.ts';
import { enrolmentSecretName, endpointCredentialsSecretName, PASSWORD_HASH_ANNOTATION } from '../labels.ts';
import { renderAccessConfig, type AccessInputs } from './access-config.ts';
import { credentialHashOf } from './credentials-step.ts';
import { desiredVolumeEncryptionSecret } from './desired.ts';
import type { Secret, SpaceKeys } from './keys.ts';
import { gatewayConfigSecret, holdsPlaintextKey, LEGACY_DATA_KEY, peerToken, SESSION_KEY } from './secrets.ts';
import { secretOf, type ProvisionFacts, type SpaceCaches } from './step.ts';
import type { KeysProduced } from './keys-step.ts';

/**
 * The access configuration's inputs from the namespace's Secrets: endpoints without issued
 * credentials and people without an enrolment are left out.
 */
export function accessInputs(facts: Pick<ProvisionFacts, 'space' | 'tenant' | 'endpoints' | 'names'>, keys: SpaceKeys, secret: (name: string) => Secret | undefined, reportTokenHash: string, now: Date): AccessInputs {
  const { space, tenant, endpoints, names } = facts;
  return {
    space,
    tenant,
    keys,
    endpoints: endpoints.flatMap((endpoint) => {
      const credentials = secret(endpointCredentialsSecretName(endpoint.metadata.name ?? ''));
      const hash = credentialHashOf(credentials);
      if (!hash) return [];
      const enrolment = enrolmentOf(credentials);
      return [{ endpoint, credentialHash: hash, repository: repositoryPathOf(endpoint.metadata.name ?? '', credentials), ...(enrolment ? { enrolment } : {}) }];
    }),
    users: enrolledUsers(tenant).flatMap((user) => {
      const enrolment = secret(enrolmentSecretName(user.name));
      const passwordHash = enrolment?.metadata.annotations?.[PASSWORD_HASH_ANNOTATION];
      if (!passwordHash) return [];
      const totpSecret = secretField(enrolment, 'totpSecret');
      return [{ name: user.name, email: user.email, role: user.role ?? 'viewer', passwordHash, ...(totpSecret ? { totpSecret } : {}) }];
    }),
    maintenanceHash: credentialHashOf(secret(names.maintenanceSecret)),
    reportTokenHash,
    now,
  };
}

export async function applyAccessConfig(ctx: ControllerContext, caches: SpaceCaches, facts: ProvisionFacts, produced: KeysProduced, reportTokenHash: string): Promise<void> {
  const { space, namespace, names, tenantName, datacenter } = facts;
  const { keys, master } = produced;
  const secret = (name: string) => secretOf(caches, namespace, name);
  const access = renderAccessConfig(accessInputs(facts, keys, secret, reportTokenHash, ctx.now()));
  const sessionKey = secretField(secret(names.reportTokenSecret), SESSION_KEY);
  const peers = peerToken(master.key, space.metadata.uid ?? '');
  const stored = secret(names.configSecret);
  if (holdsPlaintextKey(stored)) await dropPlaintextKey(ctx, space, stored);
  await ensureApplied(ctx, K8S.Secret, gatewayConfigSecret(space, tenantName, access, sessionKey, peers), holdsPlaintextKey(stored) ? undefined : stored);
  const volumeSecret = desiredVolumeEncryptionSecret(space, tenantName, datacenter, keys.volumePassphrase);
  if (volumeSecret) await ensureApplied(ctx, K8S.Secret, volumeSecret, secret(names.volumeEncryptionSecret));
}

/**
 * Migration from operators that kept the plaintext data key in the gateway config Secret: removes
 * that one key, only from the version read (a JSON patch whose first operation tests the
 * resourceVersion: a 409/422 on a concurrent change is retried by the next reconcile). Whoever owns
 * the field, it goes; nothing else in the Secret changes. The key itself is not lost: it stays in the
 * key Secret, wrapped by the master key, and the gateways now get it from the key service.
 */
async function dropPlaintextKey(ctx: ControllerContext, space: BackupSpace, stored: Secret | undefined): Promise<void> {
  if (!stored?.metadata.name) return;
  await ctx.client.request({
    method: 'PATCH',
    path: objectPath(K8S.Secret, stored.metadata.name, stored.metadata.namespace),
    body: [
      { op: 'test', path: '/metadata/resourceVersion', value: stored.metadata.resourceVersion },
      { op: 'remove', path: `/data/${LEGACY_DATA_KEY.replace(/~/g, '~0').replace(/\//g, '~1')}` },
    ],
    contentType: CONTENT_TYPE.jsonPatch,
  });
  await ctx.recorder.normal(space, 'PlaintextKeyRemoved', `removed the plaintext data key from Secret ${stored.metadata.name}: the gateway now gets its key from the operator's key service and keeps it in memory only`);
}
