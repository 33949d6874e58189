/**
 * The deletion path. Deleting a space destroys its keys first (crypto-shred: every copy of the
 * ciphertext becomes unreadable), then lets garbage collection remove the volume and the gateway;
 * only once its data was exported or the deletion waived (admission/deletion.ts).
 */
import { checkSpaceDeletion } from '../../admission/deletion.ts';
import { API } from '../../api/refs.ts';
import type { BackupSpace } from '../../api/types.ts';
import { applyStatus, deleteObject, removeFinalizer } from '../../runtime/apply.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { hasFinalizer, objectKey } from '../../runtime/object.ts';
import type { ControllerContext } from '../context.ts';
import { spaceObjectNames } from '../labels.ts';
import { tenantNamedFor } from '../tenants.ts';
import { spaceStatus } from './status.ts';
import type { SpaceCaches } from './step.ts';

export const SPACE_FINALIZER = 'tenantbackup.io/crypto-shred';

/** What a shred releases beside the keys (its fixed address). */
export type OnShredded = (space: BackupSpace) => Promise<void> | void;

export async function cryptoShred(ctx: ControllerContext, caches: SpaceCaches, space: BackupSpace, onShredded: OnShredded): Promise<undefined> {
  if (!hasFinalizer(space, SPACE_FINALIZER)) return undefined;
  const namespace = space.metadata.namespace ?? '';
  // The webhook's rule, again: admission may have been bypassed, and a shredded key cannot come back.
  const verdict = checkSpaceDeletion(space, tenantNamedFor(caches.tenants, namespace));
  if (!verdict.allowed) {
    const observation = { datacenter: caches.datacenters.get(space.spec.datacenter), pods: [], endpoints: space.status?.endpoints ?? 0, blocked: { state: 'stalled' as const, reason: 'DeletionRefused', message: verdict.message } };
    await applyStatus(ctx.client, API.BackupSpace, space, spaceStatus(space, observation, ctx.now()));
    await ctx.recorder.warning(space, 'DeletionRefused', verdict.message);
    return undefined;
  }
  const names = spaceObjectNames(space.metadata.name ?? '');
  const keyWasThere = await deleteObject(ctx.client, K8S.Secret, names.keySecret, namespace);
  for (const name of [names.configSecret, names.volumeEncryptionSecret]) await deleteObject(ctx.client, K8S.Secret, name, namespace);
  await onShredded(space);
  if (keyWasThere) await ctx.recorder.normal(space, 'CryptoShredded', `destroyed data key ${space.status?.keyId ?? ''}: the space's data can no longer be decrypted`);
  ctx.logger.info({ space: objectKey(space), keyId: space.status?.keyId }, 'space keys destroyed; releasing the space');
  await removeFinalizer(ctx.client, API.BackupSpace, space, SPACE_FINALIZER);
  return undefined;
}
