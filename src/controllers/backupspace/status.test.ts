import { describe, expect, it } from 'vitest';
import { space } from '../../../test/support/objects.ts';
import { spaceStatus } from './status.ts';

describe('a space\'s admitted size', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  const keys = { keyId: 'k1-0000000000000000', custody: 'provider' as const };

  it('is its size once a reconcile got as far as its keys (every rule held for it)', () => {
    expect(spaceStatus(space('a', 'tenant-acme', { size: '20Gi' }), { pods: [], endpoints: 0, keys }, now).admittedSize).toBe('20Gi');
    expect(spaceStatus(space('a', 'tenant-acme', { size: 5_000_000_000 }), { pods: [], endpoints: 0, keys }, now).admittedSize).toBe('5000000000');
    // A later step that blocks (an address) does not undo what the rules allowed.
    const blockedLater = spaceStatus(space('a', 'tenant-acme', { size: '20Gi' }), { pods: [], endpoints: 0, keys, blocked: { state: 'stalled', reason: 'AddressTaken', message: 'x' } }, now);
    expect(blockedLater.admittedSize).toBe('20Gi');
  });

  it('keeps the size it was built at when a rule refuses the space (a growth past the quota)', () => {
    const built = { ...space('a', 'tenant-acme', { size: '30Gi' }), status: { admittedSize: '20Gi', keyId: keys.keyId } };
    const refused = spaceStatus(built, { pods: [], endpoints: 0, blocked: { state: 'stalled', reason: 'Quota', message: 'spec.size: quota: …' } }, now);
    expect(refused.admittedSize).toBe('20Gi');
    expect(spaceStatus(space('new', 'tenant-acme'), { pods: [], endpoints: 0, blocked: { state: 'stalled', reason: 'Quota', message: 'x' } }, now).admittedSize).toBeUndefined();
  });
});
