/**
 * Stores the customer key record a space's gateway reports (the customer set or changed the space
 * password there: src/gateway/password-route.ts) in the space's key Secret, its lasting home
 * (src/gateway/customer-key-store.ts says why the Secret and not the volume). Only a record for the
 * space's own key — or its first — and newer than the stored one is taken, under the Secret's
 * resourceVersion precondition, so a stale or replayed report never rolls a password back and two
 * operator processes never interleave. The record holds no password; neither does anything here.
 */
import { validateCustomerKeyRecord } from '../../crypto/index.ts';
import type { GatewayReport } from '../../gateway/report-contract.ts';
import { CONTENT_TYPE } from '../../runtime/kube/client.ts';
import { isApiError } from '../../runtime/kube/errors.ts';
import { K8S, objectPath } from '../../runtime/kube/resource-ref.ts';
import { base64 } from '../../runtime/kube/secrets.ts';
import type { ControllerContext } from '../context.ts';
import { readSpaceKeys, type Secret, type SpaceKeys } from './keys.ts';
import type { KeysProduced } from './keys-step.ts';
import type { ProvisionFacts } from './step.ts';

export type ReportedCustomerKey = NonNullable<GatewayReport['customerKey']>;

/** Pure: whether the reported record is to be stored, and if not, why (undefined: nothing to do). */
export function judgeReportedKey(keys: SpaceKeys, reported: ReportedCustomerKey | undefined): { store: ReportedCustomerKey } | { refuse: string } | undefined {
  if (keys.custody !== 'customer' || reported === undefined) return undefined;
  if (!Number.isInteger(reported.version) || reported.version <= (keys.recordVersion ?? 0)) return undefined;
  if (keys.keyId !== undefined && reported.keyId !== keys.keyId) {
    return { refuse: `the gateway reports a customer key record for data key ${reported.keyId}, but this space's data is under key ${keys.keyId}; a password change re-wraps the key, it never replaces it` };
  }
  try {
    validateCustomerKeyRecord(reported.record);
  } catch (error) {
    return { refuse: `the gateway reports an unusable customer key record: ${error instanceof Error ? error.message : 'invalid'}` };
  }
  return { store: reported };
}

export async function storeReportedCustomerKey(ctx: ControllerContext, facts: ProvisionFacts, produced: KeysProduced, keySecret: Secret | undefined, report: GatewayReport | undefined): Promise<KeysProduced> {
  const verdict = judgeReportedKey(produced.keys, report?.customerKey);
  if (verdict === undefined || keySecret === undefined) return produced;
  if ('refuse' in verdict) {
    await ctx.recorder.warning(facts.space, 'CustomerKeyRefused', verdict.refuse);
    return produced;
  }
  const { store } = verdict;
  let updated: Secret;
  try {
    updated = await ctx.client.request<Secret>({
      method: 'PATCH',
      path: objectPath(K8S.Secret, keySecret.metadata.name ?? '', facts.namespace),
      contentType: CONTENT_TYPE.merge,
      body: {
        metadata: { resourceVersion: keySecret.metadata.resourceVersion },
        data: { keyId: base64(store.keyId), record: base64(JSON.stringify(store.record)), recordVersion: base64(String(store.version)) },
      },
    });
  } catch (error) {
    // Changed meanwhile: the change brings the space back, and the report still says the same.
    if (isApiError(error, 409)) return produced;
    throw error;
  }
  const first = produced.keys.keyId === undefined;
  await ctx.recorder.normal(facts.space, first ? 'CustomerPasswordSet' : 'CustomerPasswordChanged', first
    ? `the customer set the space password at the gateway: stored data key ${store.keyId}, wrapped with it (the password is not stored)`
    : `the customer changed the space password at the gateway: stored data key ${store.keyId} re-wrapped with the new one (record ${store.version}; the password is not stored)`);
  return { ...produced, keys: readSpaceKeys(facts.space, updated, produced.master.key) };
}
