/**
 * Key material of a space (S6, S13). Every space has a random 256-bit data key, stored only wrapped:
 * by the operator's master key (provider custody), or by a key derived with scrypt from a password
 * only the customer knows (customer custody; the password is read once from a short-lived Secret,
 * which is then deleted). Beside it, a provider-held volume key feeds the CSI driver's disk
 * encryption. Deleting the key Secret is the crypto-shred: without it nothing can be decrypted.
 *
 * A key is created once. If its Secret disappears while the space has data, the operator says so and
 * never makes a new key behind the customer's back (the old data would silently become unreadable).
 */
import { createHmac } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { BackupSpace } from '../../api/types.ts';
import { API } from '../../api/refs.ts';
import {
  checkPasswordPolicy,
  decodeMasterKey,
  encodeMasterKey,
  generateDataKey,
  generateMasterKey,
  keyIdOf,
  masterKeyId,
  PasswordPolicyError,
  sealWithPassword,
  unwrapWithMasterKey,
  validateCustomerKeyRecord,
  wrapWithMasterKey,
  type CustomerKeyRecord,
} from '../../crypto/index.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { getObject } from '../../runtime/apply.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { collectionPath, K8S } from '../../runtime/kube/resource-ref.ts';
import { base64, readOrCreateSecret, secretField } from '../../runtime/kube/secrets.ts';
import { loadOnce } from '../../runtime/once.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, OPERATOR_NAME, SECRET_TYPE_LABEL, spaceObjectNames } from '../labels.ts';
import { secretMetadata } from './desired.ts';

export type Secret = V1Secret & KubeObject;
export type KeyCustody = 'provider' | 'customer';

export const MASTER_KEY_SECRET = `${OPERATOR_NAME}-master-key`;


/** Wrapped keys are bound to the space's uid: a wrapped key copied to another space does not open. */
export function keyBinding(space: BackupSpace): string {
  return `tenantbackup.io/space/${space.metadata.uid ?? ''}`;
}

/** The master key is gone while space keys wrapped by it exist: making a new one would orphan them. */
export class MasterKeyMissingError extends Error {
  override readonly name = 'MasterKeyMissingError';
}

/**
 * Space key Secrets anywhere in the cluster wrapped by a master key that exists nowhere (not in any
 * namespace's master key Secret): what a new master key would leave unreadable. Keys of another
 * operator installation whose master key is alive (test clusters run several) are not orphans.
 */
async function orphanedSpaceKeys(client: KubeClient): Promise<{ where: string; masterKeyId: string }[]> {
  const list = (query: Record<string, string>) => client.request<{ items: Secret[] }>({ method: 'GET', path: collectionPath(K8S.Secret), query });
  const masters = await list({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`, fieldSelector: `metadata.name=${MASTER_KEY_SECRET}` });
  const alive = new Set(masters.items.map((s) => secretField(s, 'keyId')));
  const keys = await list({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${SECRET_TYPE_LABEL}=space-key` });
  return keys.items
    .map((s) => ({ where: `${s.metadata.namespace}/${s.metadata.name}`, masterKeyId: secretField(s, 'masterKeyId') ?? 'unknown' }))
    .filter((k) => !alive.has(k.masterKeyId));
}

/**
 * The operator's master key, created once in its namespace — and only while no space key exists
 * that a lost master key wrapped: a new master key is never made over them.
 */
export async function ensureMasterKey(client: KubeClient, namespace: string): Promise<{ key: Buffer; id: string }> {
  const secret = await readOrCreateSecret(client, namespace, MASTER_KEY_SECRET, async () => {
    const orphans = await orphanedSpaceKeys(client);
    if (orphans.length > 0) {
      const ids = [...new Set(orphans.map((o) => o.masterKeyId))].join(', ');
      const named = orphans.slice(0, 3).map((o) => o.where).join(', ');
      throw new MasterKeyMissingError(`the master key Secret ${namespace}/${MASTER_KEY_SECRET} is gone while ${orphans.length} space key(s) wrapped by master key ${ids} exist (${named}${orphans.length > 3 ? ', …' : ''}); a new master key would leave them unreadable, so none is made: restore the Secret from a backup`);
    }
    const key = generateMasterKey();
    return {
      metadata: { labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      type: 'Opaque',
      data: { key: base64(encodeMasterKey(key)), keyId: base64(masterKeyId(key)) },
    };
  });
  const key = decodeMasterKey(secretField(secret, 'key') ?? '');
  return { key, id: masterKeyId(key) };
}

/**
 * The master key, read (or made) once per process: it does not change while the operator runs. A
 * refusal (MasterKeyMissingError) is not remembered, so a restored Secret is found on the next try.
 */
export function masterKeyProvider(client: KubeClient, namespace: string): () => Promise<{ key: Buffer; id: string }> {
  return loadOnce(() => ensureMasterKey(client, namespace));
}

/** What a space's key Secret holds, read back. */
export interface SpaceKeys {
  custody: KeyCustody;
  /** Absent under customer custody until the customer sets the space password at the gateway. */
  keyId?: string;
  /** Customer custody: how many times the password was set or changed through the gateway. */
  recordVersion?: number;
  /**
   * Present under provider custody: the data key, unwrapped in this process's memory to check it is
   * the one named; never written to any object (the gateway asks the key service for it).
   */
  dataKey?: Buffer;
  /** Present under customer custody: what the gateway needs to unseal with the customer's password. */
  record?: CustomerKeyRecord;
  /** Passphrase of the CSI driver's volume encryption (provider-held under both custodies). */
  volumePassphrase: string;
}

function volumePassphrase(volumeKey: Buffer): string {
  // A passphrase string for LUKS/ceph-csi, derived so the raw key bytes never leave this process.
  return createHmac('sha256', volumeKey).update('tenantbackup.io/volume-passphrase/v1').digest('base64url');
}

export function readSpaceKeys(space: BackupSpace, secret: Secret, masterKey: Buffer): SpaceKeys {
  const custody = secretField(secret, 'custody') as KeyCustody | undefined;
  const keyId = secretField(secret, 'keyId');
  const wrappedVolumeKey = secretField(secret, 'wrappedVolumeKey');
  if (!custody || !wrappedVolumeKey || (custody === 'provider' && !keyId)) throw new Error(`key Secret ${secret.metadata.name} is incomplete`);
  const volumeKey = unwrapWithMasterKey(wrappedVolumeKey, masterKey, keyBinding(space));
  if (custody === 'provider') {
    const dataKey = unwrapWithMasterKey(secretField(secret, 'wrappedKey') ?? '', masterKey, keyBinding(space));
    if (keyIdOf(dataKey) !== keyId) throw new Error(`key Secret ${secret.metadata.name} holds a key that is not ${keyId}`);
    return { custody, keyId, dataKey, volumePassphrase: volumePassphrase(volumeKey) };
  }
  const recordText = secretField(secret, 'record');
  // No key yet: the customer sets the space password at the gateway, which makes the key.
  if (recordText === undefined && !keyId) return { custody, volumePassphrase: volumePassphrase(volumeKey) };
  if (!keyId) throw new Error(`key Secret ${secret.metadata.name} has a customer key record but no keyId`);
  const record = validateCustomerKeyRecord(JSON.parse(recordText ?? 'null'));
  const recordVersion = Number(secretField(secret, 'recordVersion') ?? '0');
  if (!Number.isInteger(recordVersion) || recordVersion < 0) throw new Error(`key Secret ${secret.metadata.name}: recordVersion must be a non-negative integer`);
  return { custody, keyId, record, recordVersion, volumePassphrase: volumePassphrase(volumeKey) };
}

export type NewKeyOutcome =
  | { created: true; secret: ApplyObject; keyId?: string }
  | { created: false; reason: 'AwaitingCustomerPassword' | 'CustomerPasswordInvalid'; message: string };

/** Where the customer's one-time password is, if the space names one. */
export function passwordSecretRef(space: BackupSpace): { name: string; key: string } | undefined {
  const ref = space.spec.encryption?.customerPasswordSecretRef;
  return ref ? { name: ref.name, key: ref.key ?? 'password' } : undefined;
}

/**
 * Makes a new space key Secret. Under customer custody with a password Secret named, the key is made
 * and wrapped with that password here (the caller deletes the Secret once the key Secret is stored);
 * with none named, the Secret holds no data key yet: the customer sets the space password at the
 * gateway (POST /v1/password), which makes the key there, and the operator stores the record the
 * gateway reports (customer-key-step.ts) — so no provider credential, object or log ever has it.
 */
export async function newSpaceKeys(client: KubeClient, space: BackupSpace, tenant: string, custody: KeyCustody, master: { key: Buffer; id: string }): Promise<NewKeyOutcome> {
  const dataKey = generateDataKey();
  const volumeKey = generateDataKey();
  const binding = keyBinding(space);
  const keyId = keyIdOf(dataKey);
  const data: Record<string, string> = {
    custody: base64(custody),
    keyId: base64(keyId),
    masterKeyId: base64(master.id),
    wrappedVolumeKey: base64(wrapWithMasterKey(volumeKey, master.key, binding)),
  };
  const ref = passwordSecretRef(space);
  if (custody === 'provider') {
    data.wrappedKey = base64(wrapWithMasterKey(dataKey, master.key, binding));
  } else if (!ref) {
    dataKey.fill(0);
    delete data.keyId;
  } else {
    const passwordSecret = ref ? await getObject<Secret>(client, K8S.Secret, ref.name, space.metadata.namespace) : undefined;
    const password = secretField(passwordSecret, ref?.key ?? 'password');
    if (password === undefined) {
      return {
        created: false,
        reason: 'AwaitingCustomerPassword',
        message: `waiting for the customer's password: create Secret ${ref.name} with key ${ref.key} in namespace ${space.metadata.namespace}; it is read once, then deleted, and never stored`,
      };
    }
    try {
      checkPasswordPolicy(password);
    } catch (error) {
      if (error instanceof PasswordPolicyError) return { created: false, reason: 'CustomerPasswordInvalid', message: `Secret ${ref.name}: ${error.message}` };
      throw error;
    }
    data.record = base64(JSON.stringify(await sealWithPassword(dataKey, password, space.metadata.uid ?? '')));
  }
  dataKey.fill(0);
  volumeKey.fill(0);
  return {
    created: true,
    ...(data.keyId ? { keyId } : {}),
    secret: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: secretMetadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').keySecret, 'space-key'),
      type: 'Opaque',
      data,
    },
  };
}

/** Why a space's provider data key cannot be handed out: no such space or key, or not ours to give. */
export class SpaceKeyUnavailableError extends Error {
  override readonly name = 'SpaceKeyUnavailableError';
  readonly reason: 'SpaceNotFound' | 'KeyNotFound' | 'CustomerCustody' | 'KeyUnreadable';
  constructor(reason: SpaceKeyUnavailableError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * A provider-custody space's data key, unwrapped with the master key from its key Secret as the API
 * server has it now: for its gateway (the key service) and the operator's own exports. It lives only
 * in memory; the caller zeroes it when done. A customer-custody key is never unwrapped here: only the
 * customer's password opens it.
 */
export async function providerDataKey(client: KubeClient, master: Buffer, namespace: string, name: string): Promise<{ keyId: string; dataKey: Buffer }> {
  const space = await getObject<BackupSpace>(client, API.BackupSpace, name, namespace);
  if (!space || space.metadata.deletionTimestamp) throw new SpaceKeyUnavailableError('SpaceNotFound', `no backup space ${namespace}/${name}`);
  const secretName = spaceObjectNames(name).keySecret;
  const secret = await getObject<Secret>(client, K8S.Secret, secretName, namespace);
  if (!secret) throw new SpaceKeyUnavailableError('KeyNotFound', `backup space ${namespace}/${name} has no key Secret ${secretName} yet`);
  let keys: SpaceKeys;
  try {
    keys = readSpaceKeys(space, secret, master);
  } catch (error) {
    throw new SpaceKeyUnavailableError('KeyUnreadable', `the key Secret ${namespace}/${secretName} cannot be read with the operator's master key: ${error instanceof Error ? error.message : 'unreadable'}`);
  }
  if (keys.custody !== 'provider' || !keys.dataKey || keys.keyId === undefined) throw new SpaceKeyUnavailableError('CustomerCustody', `backup space ${namespace}/${name} is under customer key custody: its key is opened by the customer's password at unseal, never by the operator`);
  return { keyId: keys.keyId, dataKey: keys.dataKey };
}
