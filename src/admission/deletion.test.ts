import { describe, expect, it } from 'vitest';
import { endpoint, space, tenant } from '../../test/support/objects.ts';
import { checkEndpointDeletion, checkSpaceDeletion, endpointDataEvidence, releasedByTermination, spaceDataEvidence } from './deletion.ts';

describe('what holds data', () => {
  it('a space with bytes, endpoints or a backup seen; not a fresh one', () => {
    expect(spaceDataEvidence(space('s', 'tenant-acme'))).toBeUndefined();
    expect(spaceDataEvidence({ ...space('s', 'tenant-acme'), status: { usedBytes: 0, endpoints: 0 } })).toBeUndefined();
    expect(spaceDataEvidence({ ...space('s', 'tenant-acme'), status: { endpoints: 1 } })).toBe('1 endpoint(s)');
    expect(spaceDataEvidence({ ...space('s', 'tenant-acme'), status: { usedBytes: 2048, lastBackupTime: '2026-12-01T00:00:00Z' } })).toBe('2.0Ki stored, last backup 2026-12-01T00:00:00Z');
  });

  it('an endpoint with bytes stored or a backup seen', () => {
    expect(endpointDataEvidence(endpoint('e', 'tenant-acme', 's'))).toBeUndefined();
    expect(endpointDataEvidence({ ...endpoint('e', 'tenant-acme', 's'), status: { bytesStored: 5 } })).toBe('5B stored');
  });
});

describe('releasedByTermination', () => {
  const terminating = (termination: NonNullable<NonNullable<ReturnType<typeof tenant>['status']>['termination']>) => ({ ...tenant('acme'), status: { termination } });
  it('releases only after the verification, and only the spaces it verified', () => {
    expect(releasedByTermination(undefined, 'u')).toBe(false);
    expect(releasedByTermination(terminating({ phase: 'Verifying', exportVerified: false }), 'u')).toBe(false);
    expect(releasedByTermination(terminating({ phase: 'Deleting', exportVerified: true, spaces: [{ name: 's', uid: 'u', verifiedAt: 't' }] }), 'u')).toBe(true);
    expect(releasedByTermination(terminating({ phase: 'Deleting', exportVerified: true, spaces: [{ name: 's', uid: 'u', verifiedAt: 't' }] }), 'other')).toBe(false);
    expect(releasedByTermination(terminating({ phase: 'Shredding', exportWaived: true }), 'any')).toBe(true);
    expect(releasedByTermination(terminating({ phase: 'Deleting', exportVerified: true }))).toBe(true);
  });
});

describe('deletion checks', () => {
  it('refuse with the waiver annotation named, and allow with it', () => {
    const full = { ...space('s', 'tenant-acme'), status: { endpoints: 1 } };
    const refused = checkSpaceDeletion(full, undefined);
    expect(refused.allowed).toBe(false);
    expect(!refused.allowed && refused.message).toContain('tenantbackup.io/destroy-data-without-export=true');
    expect(checkSpaceDeletion({ ...full, metadata: { ...full.metadata, annotations: { 'tenantbackup.io/destroy-data-without-export': 'true' } } }, undefined).allowed).toBe(true);
    const device = { ...endpoint('e', 'tenant-acme', 's'), status: { lastBackupTime: 't' } };
    expect(checkEndpointDeletion(device, undefined).allowed).toBe(false);
    expect(checkEndpointDeletion(endpoint('e', 'tenant-acme', 's'), undefined).allowed).toBe(true);
  });
});
