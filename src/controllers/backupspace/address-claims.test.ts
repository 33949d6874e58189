import { describe, expect, it } from 'vitest';
import { datacenter, space } from '../../../test/support/objects.ts';
import { claimAddress, claimKey, releaseAddress } from './address-claims.ts';

const rome = datacenter('it-rom1', 'IT', { addressPool: { addresses: ['198.51.100.8/30'] } });
const a = space('a', 'tenant-acme', { fixedAddress: {} });
const b = space('b', 'tenant-acme', { fixedAddress: {} });

describe('address claims', () => {
  it('claims the first free address for a new space, and stores nothing when the claim stands', () => {
    const first = claimAddress({}, a, rome);
    expect(first).toEqual({ choice: { ok: true, address: '198.51.100.9' }, claims: { 'tenant-acme.a': '198.51.100.9' } });
    expect(claimAddress(first.claims ?? {}, a, rome)).toEqual({ choice: { ok: true, address: '198.51.100.9' } });
    expect(claimAddress(first.claims ?? {}, b, rome).claims).toEqual({ 'tenant-acme.a': '198.51.100.9', 'tenant-acme.b': '198.51.100.10' });
  });

  it('keeps a space its claimed address when its status is lost or says otherwise', () => {
    const claims = { 'tenant-acme.a': '198.51.100.10' };
    expect(claimAddress(claims, a, rome).choice).toEqual({ ok: true, address: '198.51.100.10' });
    expect(claimAddress(claims, { ...a, status: { address: '198.51.100.9' } }, rome).choice).toEqual({ ok: true, address: '198.51.100.10' });
  });

  it('never hands out a claimed address, nor one another space shows from before claims', () => {
    const full = { 'tenant-acme.a': '198.51.100.9', 'tenant-acme.b': '198.51.100.10' };
    expect(claimAddress(full, space('c', 'tenant-acme', { fixedAddress: {} }), rome)).toMatchObject({ choice: { ok: false, reason: 'AddressPoolExhausted' } });
    expect(claimAddress(full, space('c', 'tenant-acme', { fixedAddress: { ip: '198.51.100.10' } }), rome)).toMatchObject({ choice: { ok: false, reason: 'AddressTaken' } });
    expect(claimAddress({}, b, rome, ['198.51.100.9']).choice).toEqual({ ok: true, address: '198.51.100.10' });
    // A space from before claims keeps the address its status shows, now claimed.
    expect(claimAddress({}, { ...b, status: { address: '198.51.100.10' } }, rome).claims).toEqual({ 'tenant-acme.b': '198.51.100.10' });
  });

  it('moves a claim to a newly requested address in one entry', () => {
    const moved = claimAddress({ 'tenant-acme.a': '198.51.100.9' }, space('a', 'tenant-acme', { fixedAddress: { ip: '198.51.100.10' } }), rome);
    expect(moved.claims).toEqual({ 'tenant-acme.a': '198.51.100.10' });
  });

  it('releases only the space\'s own claim', () => {
    expect(releaseAddress({ 'tenant-acme.a': '198.51.100.9', 'tenant-acme.b': '198.51.100.10' }, a)).toEqual({ 'tenant-acme.b': '198.51.100.10' });
    expect(releaseAddress({ 'tenant-acme.b': '198.51.100.10' }, a)).toBeUndefined();
    expect(claimKey(space('main.v2', 'tenant-acme'))).toBe('tenant-acme.main.v2');
  });
});
