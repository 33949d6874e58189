import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateDataKey, keyIdOf, openWithPassword, sealWithPassword, TEST_SCRYPT_PARAMS, WrongPasswordError } from '../crypto/index.ts';
import type { CustomerKeyCustody, GatewayAccessConfig } from './access-config.ts';
import { adopted, CustomerKeyConflictError, CustomerKeyStore, effectiveAccess } from './customer-key-store.ts';

const UID = 'space-uid-1';
let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function access(custody: CustomerKeyCustody): GatewayAccessConfig {
  return {
    version: 1,
    space: { namespace: 'tenant-acme', name: 'vault', uid: UID, quotaBytes: 1, appendOnly: false, encryptAtRest: true, keyCustody: custody },
    endpoints: [],
    humans: { policy: 'two-factor', users: [] },
    reportTokenHash: 'h',
  };
}

async function store(): Promise<CustomerKeyStore> {
  dir = await mkdtemp(join(tmpdir(), 'customer-key-'));
  return new CustomerKeyStore(join(dir, 'customer-key'), 'test');
}

describe('the customer key store', () => {
  it('lets the first password be set once, also across two replicas on the volume', async () => {
    const first = await store();
    const second = new CustomerKeyStore(join(dir ?? '', 'customer-key'), 'other');
    const key = generateDataKey();
    const record = await sealWithPassword(key, 'first password of the space', UID, TEST_SCRYPT_PARAMS);
    const results = await Promise.allSettled([first.create(keyIdOf(key), record), second.create(keyIdOf(generateDataKey()), record)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')?.reason).toBeInstanceOf(CustomerKeyConflictError);
    expect(await second.refresh()).toEqual(await first.refresh());
    // Only the finished file is there; its text holds the record, never a password.
    const files = await readdir(join(dir ?? '', 'customer-key'));
    expect(files).toEqual(['customer-key.json']);
    expect(await readFile(join(dir ?? '', 'customer-key', 'customer-key.json'), 'utf8')).not.toContain('first password');
  });

  it('puts the newest record in force: the new password opens, the old one no longer does', async () => {
    const keys = await store();
    const key = generateDataKey();
    const keyId = keyIdOf(key);
    await keys.create(keyId, await sealWithPassword(key, 'first password of the space', UID, TEST_SCRYPT_PARAMS));
    const awaiting = access({ mode: 'customer' });
    const v1 = effectiveAccess(awaiting, keys.staged).space.keyCustody as Required<CustomerKeyCustody>;
    expect(v1).toMatchObject({ keyId, recordVersion: 1 });
    await keys.replace(1, keyId, await sealWithPassword(key, 'second password of the space', UID, TEST_SCRYPT_PARAMS));
    // The operator stored version 1 meanwhile: version 2 on the volume is still the one in force.
    const stored = access({ ...v1 });
    const v2 = effectiveAccess(stored, await keys.refresh()).space.keyCustody as Required<CustomerKeyCustody>;
    expect(v2.recordVersion).toBe(2);
    expect(await openWithPassword('second password of the space', v2.record, UID)).toEqual(key);
    await expect(openWithPassword('first password of the space', v2.record, UID)).rejects.toBeInstanceOf(WrongPasswordError);
    // A change against a version no longer in force is refused.
    await expect(keys.replace(1, keyId, v2.record)).rejects.toBeInstanceOf(CustomerKeyConflictError);
  });

  it('ignores a record for another key, and removes the file once the configuration carries it', async () => {
    const keys = await store();
    const key = generateDataKey();
    const record = await sealWithPassword(key, 'first password of the space', UID, TEST_SCRYPT_PARAMS);
    const staged = await keys.create(keyIdOf(key), record);
    const other = access({ mode: 'customer', keyId: 'k1-other', record, recordVersion: 0 });
    expect(effectiveAccess(other, staged)).toBe(other);
    expect(adopted(access({ mode: 'customer' }), staged)).toBe(false);
    expect(await keys.forgetIfAdopted(access({ mode: 'customer' }))).toBe(false);
    const carried = access({ mode: 'customer', keyId: staged.keyId, record, recordVersion: 1 });
    expect(adopted(carried, staged)).toBe(true);
    expect(await keys.forgetIfAdopted(carried)).toBe(true);
    expect(await keys.refresh()).toBeNull();
    expect(effectiveAccess(carried, null)).toBe(carried);
  });
});
