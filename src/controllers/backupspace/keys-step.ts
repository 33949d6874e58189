/**
 * The keys step, in two halves around the address claim: readKeys reads the master key and the
 * space's key Secret and writes nothing; completeKeys makes the key once (S6, S13) — only after every
 * other rule that can fail was judged — deletes the customer's password Secret once the key is
 * wrapped with it, and refuses to go on when the key is not the one the space's data is under. A key
 * Secret that is gone while the space's data is under it, or a lost master key, is never replaced.
 */
import { effectiveCustody } from '../../admission/rules.ts';
import { createObjectOnce, deleteObject } from '../../runtime/apply.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import type { ControllerContext } from '../context.ts';
import { MasterKeyMissingError, newSpaceKeys, passwordSecretRef, readSpaceKeys, type Secret, type SpaceKeys } from './keys.ts';
import { proceed, secretOf, stall, wait, type ProvisionFacts, type SpaceCaches, type StepResult } from './step.ts';

export type MasterKey = { key: Buffer; id: string };

export interface KeysProduced {
  keys: SpaceKeys;
  master: MasterKey;
}

/**
 * What the stored key Secret says, without touching the API: its keys, a new key to make (`undefined`
 * value), or why the space stops.
 */
export function judgeKeySecret(facts: Pick<ProvisionFacts, 'space' | 'names'>, keySecret: Secret | undefined, masterKey: Buffer): StepResult<SpaceKeys | undefined> {
  const { space, names } = facts;
  if (!keySecret) {
    if (!space.status?.keyId) return proceed(undefined);
    return stall('KeyMissing', `the key Secret ${names.keySecret} of data key ${space.status.keyId} is gone. Data written under that key cannot be read without it, so no new key is made: restore the Secret from a backup, or delete and recreate the space to start over empty`, { warn: true });
  }
  try {
    return proceed(readSpaceKeys(space, keySecret, masterKey));
  } catch (error) {
    return stall('KeyUnreadable', `the key Secret ${names.keySecret} cannot be read with the operator's master key: ${error instanceof Error ? error.message : 'unreadable'}`, { warn: true });
  }
}

/** The key read back must be the one the space's data is under. */
export function judgeKeyId(facts: Pick<ProvisionFacts, 'space' | 'names'>, keys: SpaceKeys): StepResult<SpaceKeys> {
  const recorded = facts.space.status?.keyId;
  if (recorded && recorded !== keys.keyId) return stall('KeyMismatch', `the key Secret ${facts.names.keySecret} holds ${keys.keyId ? `key ${keys.keyId}` : 'no key'}, but this space's data is under key ${recorded}`, { warn: true });
  return proceed(keys);
}

/** The stored keys read back (none yet for a new space), before anything is made. */
export interface KeysRead {
  master: MasterKey;
  keys: SpaceKeys | undefined;
}

/** Reads the master key and the space's key Secret; writes nothing. */
export async function readKeys(caches: SpaceCaches, masterKey: () => Promise<MasterKey>, facts: ProvisionFacts): Promise<StepResult<KeysRead>> {
  let master: MasterKey;
  try {
    master = await masterKey();
  } catch (error) {
    // Not watched (another namespace): look again in a while, in case it was restored.
    if (error instanceof MasterKeyMissingError) return stall('MasterKeyMissing', error.message, { warn: true, requeueAfterMs: 30_000 });
    throw error;
  }
  const stored = judgeKeySecret(facts, secretOf(caches, facts.namespace, facts.names.keySecret), master.key);
  return stored.ok ? proceed({ master, keys: stored.value }) : stored;
}

/**
 * Makes the space's key when it has none (once the other steps' rules were judged), deletes the
 * customer's password Secret once the key is wrapped with it, and checks the key is the space's.
 */
export async function completeKeys(ctx: ControllerContext, facts: ProvisionFacts, read: KeysRead): Promise<StepResult<KeysProduced>> {
  const { space, tenant, namespace, names, tenantName } = facts;
  const { master } = read;
  let keys = read.keys;
  if (!keys) {
    const custody = effectiveCustody(space, tenant);
    const outcome = await newSpaceKeys(ctx.client, space, tenantName, custody, master);
    // The password Secret is not ours and not watched: look again in a while.
    if (!outcome.created) return stall(outcome.reason, outcome.message, { requeueAfterMs: 5000 });
    const keySecret = await createObjectOnce<Secret>(ctx.client, K8S.Secret, namespace, outcome.secret);
    if (!keySecret) return wait(500);
    await ctx.recorder.normal(space, 'KeyCreated', outcome.keyId ? `created data key ${outcome.keyId} (${custody} custody)` : 'customer custody without a password Secret: the data key is made when a tenant admin sets the space password at the gateway');
    const made = judgeKeySecret(facts, keySecret, master.key);
    if (!made.ok) return made;
    keys = made.value;
    if (!keys) throw new Error(`key Secret ${names.keySecret} was created but reads as absent`);
  }
  // The customer's password has done its job: it must not stay anywhere.
  const passwordRef = passwordSecretRef(space);
  if (keys.custody === 'customer' && passwordRef && await deleteObject(ctx.client, K8S.Secret, passwordRef.name, namespace)) {
    await ctx.recorder.normal(space, 'CustomerPasswordDeleted', `wrapped the data key with the customer's password and deleted Secret ${passwordRef.name}; the password is not stored`);
  }
  const checked = judgeKeyId(facts, keys);
  return checked.ok ? proceed({ keys: checked.value, master }) : checked;
}
