/**
 * The customer's key record as the customer set it through the gateway (POST /v1/password), from
 * the moment it is made until the operator has stored it in the space's key Secret.
 *
 * Why this way (S6, S13: "the provider never sees the password"): the password reaches nothing but
 * this process — it is typed by a tenant admin signed in with password and TOTP, used for one scrypt
 * derivation and dropped. What is kept is only the record (salt, KDF parameters, verifier, the data
 * key wrapped by the derived key), the same record customer custody always kept.
 *
 * Where it is kept, and why there:
 *   - First on the space's volume, `<data>/.tenant-backup/customer-key/customer-key.json`, written
 *     before the route answers: the gateway has no Kubernetes credentials (by design), the volume is
 *     shared by every replica (so all of them unseal with the new password at once) and it survives
 *     a restart of every pod. A first set is an exclusive creation (link(2) of a complete temporary
 *     file: atomic, fails when one exists), so two admins racing on two replicas cannot make two data
 *     keys; a change is a compare-and-swap on `version` under the volume lock.
 *   - Then in the key Secret: the gateway reports the record (GET /v1/report, which only the
 *     operator's token reads) and the operator writes it into the Secret under a resourceVersion
 *     precondition; it comes back in access.json with its `recordVersion`, and the file is removed.
 *     The Secret is its lasting home because deleting it is the crypto-shred: a copy left on the
 *     volume would travel with every backup of the volume, and such copies could then never be
 *     destroyed. It is also what an etcd or namespace restore brings back with the space.
 *
 * A record in the file whose version is above the configuration's is the one in force (the newest
 * password opens the space, the previous one no longer does); a record for another key than the
 * configuration's is ignored — a password change re-wraps the key, it never replaces it.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateCustomerKeyRecord, type CustomerKeyRecord } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { VolumeLock } from './volume-lock.ts';

export const CUSTOMER_KEY_DIR = 'customer-key';
const FILE = 'customer-key.json';

/** A record made through the gateway, with the number of sets and changes behind it. */
export interface StagedCustomerKey {
  version: number;
  keyId: string;
  record: CustomerKeyRecord;
}

/** Someone else set or changed the password meanwhile. */
export class CustomerKeyConflictError extends Error {
  override readonly name = 'CustomerKeyConflictError';
}

function parseStaged(text: string): StagedCustomerKey {
  const value = JSON.parse(text) as Partial<StagedCustomerKey>;
  if (!Number.isInteger(value.version) || (value.version ?? 0) < 1 || typeof value.keyId !== 'string' || value.keyId.length === 0) {
    throw new Error(`${FILE}: version must be a positive integer and keyId a non-empty string`);
  }
  return { version: value.version as number, keyId: value.keyId, record: validateCustomerKeyRecord(value.record) };
}

/** The record in force: the staged one when it is newer than the configuration's and for the same key. */
export function effectiveAccess(access: GatewayAccessConfig, staged: StagedCustomerKey | null): GatewayAccessConfig {
  const custody = access.space.keyCustody;
  if (custody.mode !== 'customer' || staged === null) return access;
  if (custody.keyId !== undefined && custody.keyId !== staged.keyId) return access;
  if (staged.version <= (custody.recordVersion ?? 0) && custody.record !== undefined) return access;
  return { ...access, space: { ...access.space, keyCustody: { mode: 'customer', keyId: staged.keyId, record: staged.record, recordVersion: staged.version } } };
}

/** True when the configuration already carries the staged record (the operator stored it). */
export function adopted(access: GatewayAccessConfig, staged: StagedCustomerKey): boolean {
  const custody = access.space.keyCustody;
  return custody.mode === 'customer' && custody.keyId === staged.keyId && (custody.recordVersion ?? 0) >= staged.version;
}

export class CustomerKeyStore {
  readonly #directory: string;
  readonly #path: string;
  readonly #lock: VolumeLock;
  #staged: StagedCustomerKey | null = null;

  constructor(directory: string, owner: string) {
    this.#directory = directory;
    this.#path = join(directory, FILE);
    this.#lock = new VolumeLock(join(directory, 'lock'), { owner, staleMs: 10_000, waitMs: 30_000 });
  }

  /** The staged record as last read. */
  get staged(): StagedCustomerKey | null {
    return this.#staged;
  }

  /** Reads the file again (another replica may have set or changed the password). */
  async refresh(): Promise<StagedCustomerKey | null> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.#staged = null;
      return null;
    }
    this.#staged = parseStaged(text);
    return this.#staged;
  }

  /** The first password: fails with CustomerKeyConflictError when a record was staged meanwhile. */
  async create(keyId: string, record: CustomerKeyRecord): Promise<StagedCustomerKey> {
    const staged: StagedCustomerKey = { version: 1, keyId, record };
    const temporary = await this.#writeTemporary(staged);
    try {
      await link(temporary, this.#path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CustomerKeyConflictError('a space password was set meanwhile');
      throw error;
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
    this.#staged = staged;
    return staged;
  }

  /**
   * A changed password: the same key re-wrapped, version `expected + 1`. Fails with
   * CustomerKeyConflictError when the version in force is no longer `expected`.
   */
  async replace(expected: number, keyId: string, record: CustomerKeyRecord): Promise<StagedCustomerKey> {
    const staged: StagedCustomerKey = { version: expected + 1, keyId, record };
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
    await this.#lock.acquire();
    try {
      const current = await this.refresh();
      if (current !== null && current.version !== expected) throw new CustomerKeyConflictError('the space password was changed meanwhile');
      const temporary = await this.#writeTemporary(staged);
      if (!(await this.#lock.verify())) {
        await unlink(temporary).catch(() => undefined);
        throw new CustomerKeyConflictError('the volume lock was lost while changing the space password');
      }
      await rename(temporary, this.#path);
    } finally {
      await this.#lock.release();
    }
    this.#staged = staged;
    return staged;
  }

  /** Removes the file once the configuration carries its record (so no copy stays on the volume). */
  async forgetIfAdopted(access: GatewayAccessConfig): Promise<boolean> {
    const staged = await this.refresh();
    if (staged === null || !adopted(access, staged)) return false;
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
    await this.#lock.acquire();
    try {
      const current = await this.refresh();
      if (current === null || current.version !== staged.version) return false;
      await unlink(this.#path);
      this.#staged = null;
      return true;
    } finally {
      await this.#lock.release();
    }
  }

  async #writeTemporary(staged: StagedCustomerKey): Promise<string> {
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
    const temporary = join(this.#directory, `.${FILE}.${randomBytes(6).toString('hex')}`);
    await writeFile(temporary, `${JSON.stringify(staged)}\n`, { mode: 0o600, flush: true });
    return temporary;
  }
}
