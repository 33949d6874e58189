import { describe, expect, it } from 'vitest';
import { space } from '../../../test/support/objects.ts';
import { generateMasterKey, masterKeyId } from '../../crypto/index.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { spaceObjectNames } from '../labels.ts';
import { newSpaceKeys, type Secret } from './keys.ts';
import { judgeKeyId, judgeKeySecret } from './keys-step.ts';

const names = spaceObjectNames('main');
const master = generateMasterKey();

/** A provider-custody key Secret as the keys step stores it (the provider path asks the API for nothing). */
async function keySecretOf(main: ReturnType<typeof space>, key = master): Promise<Secret> {
  const outcome = await newSpaceKeys({} as KubeClient, main, 'acme', 'provider', { key, id: masterKeyId(key) });
  if (!outcome.created) throw new Error('no key');
  return outcome.secret as Secret;
}

describe('the keys step', () => {
  it('makes a key for a new space, and only for a new one', () => {
    expect(judgeKeySecret({ space: space('main', 'tenant-acme'), names }, undefined, master)).toEqual({ ok: true, value: undefined });
  });

  it('never makes a new key for a space whose data is under a key that is gone: KeyMissing with a Warning', () => {
    const main = { ...space('main', 'tenant-acme'), status: { keyId: 'k1-0123456789abcdef' } };
    const result = judgeKeySecret({ space: main, names }, undefined, master);
    expect(result).toMatchObject({ ok: false, halt: { kind: 'blocked', warn: true, blocked: { state: 'stalled', reason: 'KeyMissing' } } });
    expect(result.ok ? '' : result.halt.kind === 'blocked' ? result.halt.blocked.message : '').toContain('k1-0123456789abcdef');
  });

  it('reads the stored key with the master key', async () => {
    const main = space('main', 'tenant-acme');
    const result = judgeKeySecret({ space: main, names }, await keySecretOf(main), master);
    expect(result.ok && result.value).toMatchObject({ custody: 'provider', keyId: expect.stringMatching(/^k1-/) });
  });

  it('says KeyUnreadable for a key Secret wrapped by another master key, or copied from another space', async () => {
    const main = space('main', 'tenant-acme');
    const foreign = judgeKeySecret({ space: main, names }, await keySecretOf(main, generateMasterKey()), master);
    expect(foreign).toMatchObject({ ok: false, halt: { blocked: { reason: 'KeyUnreadable' } } });
    const copied = judgeKeySecret({ space: main, names }, await keySecretOf(space('other', 'tenant-acme')), master);
    expect(copied).toMatchObject({ ok: false, halt: { blocked: { reason: 'KeyUnreadable' } } });
  });

  it('says KeyMismatch when the key read back is not the one the space\'s data is under', async () => {
    const main = space('main', 'tenant-acme');
    const read = judgeKeySecret({ space: main, names }, await keySecretOf(main), master);
    if (!read.ok || !read.value) throw new Error('unreadable');
    expect(judgeKeyId({ space: main, names }, read.value)).toEqual({ ok: true, value: read.value });
    const recorded = { ...main, status: { keyId: 'k1-ffffffffffffffff' } };
    expect(judgeKeyId({ space: recorded, names }, read.value)).toMatchObject({ ok: false, halt: { blocked: { reason: 'KeyMismatch' } } });
  });
});
