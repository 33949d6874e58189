import { describe, expect, it } from 'vitest';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../api/types.ts';
import {
  checkDatacenterDeletion,
  checkDatacenterReady,
  checkEndpointSpaceRef,
  checkSpaceAddressFree,
  checkSpaceAddressPool,
  checkSpaceCustody,
  checkSpaceFitsQuota,
  checkSpaceReplicas,
  checkSpaceResidency,
  checkTenantQuotaChange,
  checkTenantResidencyChange,
  describeStorageUse,
  storageOverQuota,
  effectiveCustody,
  firstDenied,
  ruleReason,
  tenantNameFromNamespace,
  tenantOfNamespace,
  type RuleResult,
} from './rules.ts';

function tenant(name: string, spec: Partial<Tenant['spec']> = {}): Tenant {
  return {
    apiVersion: 'tenantbackup.io/v1alpha1',
    kind: 'Tenant',
    metadata: { name },
    spec: { displayName: name, contacts: [{ name: 'A', email: 'a@example.com' }], residency: { countries: ['IT'] }, quotas: { storage: '100Gi' }, ...spec },
  };
}

function datacenter(name: string, country: string, accessMode?: 'ReadWriteOnce' | 'ReadWriteMany'): Datacenter {
  return {
    apiVersion: 'tenantbackup.io/v1alpha1',
    kind: 'Datacenter',
    metadata: { name },
    spec: { country, nodeSelector: { matchLabels: { zone: name } }, storage: { storageClassName: 'sc', ...(accessMode ? { accessMode } : {}) } },
  };
}

function space(name: string, spec: Partial<BackupSpace['spec']> = {}, namespace = 'tenant-acme'): BackupSpace {
  return { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'BackupSpace', metadata: { name, namespace }, spec: { size: '10Gi', datacenter: 'it-mil1', ...spec } };
}

function endpoint(spaceRef: Endpoint['spec']['spaceRef'], namespace = 'tenant-acme'): Endpoint {
  return { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Endpoint', metadata: { name: 'laptop', namespace }, spec: { spaceRef, kind: 'Desktop', selection: { include: ['/home'] } } };
}

function denied(result: RuleResult) {
  if (result.allowed) throw new Error('expected a refusal');
  return result;
}

const acme = tenant('acme');
const itMil = datacenter('it-mil1', 'IT');
const deFra = datacenter('de-fra1', 'DE');

describe('checkSpaceResidency', () => {
  it('allows a space in a datacenter of an allowed country', () => {
    expect(checkSpaceResidency(space('a'), acme, itMil)).toEqual({ allowed: true });
  });

  it('refuses a datacenter in another country, naming the field, the rule and both countries', () => {
    const result = denied(checkSpaceResidency(space('a', { datacenter: 'de-fra1' }), acme, deFra));
    expect(result).toMatchObject({ field: 'spec.datacenter', rule: 'residency' });
    expect(result.message).toBe('spec.datacenter: residency: datacenter de-fra1 is in DE, but tenant acme allows only IT');
  });

  it('applies the datacenter list, and both lists when both are set', () => {
    const chosen = tenant('acme', { residency: { datacenters: ['it-rom1'] } });
    expect(denied(checkSpaceResidency(space('a'), chosen, itMil)).message).toBe('spec.datacenter: residency: datacenter it-mil1 is not one of the datacenters tenant acme chose (it-rom1)');
    const both = tenant('acme', { residency: { countries: ['DE'], datacenters: ['it-mil1'] } });
    expect(denied(checkSpaceResidency(space('a'), both, itMil)).message).toContain('is in IT, but tenant acme allows only DE');
    const ok = tenant('acme', { residency: { countries: ['IT', 'DE'], datacenters: ['it-mil1'] } });
    expect(checkSpaceResidency(space('a'), ok, itMil).allowed).toBe(true);
  });

  it('refuses a datacenter that does not exist', () => {
    const result = denied(checkSpaceResidency(space('a', { datacenter: 'xx-nowhere' }), acme, undefined));
    expect(result).toMatchObject({ field: 'spec.datacenter', rule: 'datacenter-exists' });
    expect(result.message).toContain('datacenter xx-nowhere does not exist');
  });

  it('refuses a space outside a tenant namespace', () => {
    expect(denied(checkSpaceResidency(space('a', {}, 'tenant-ghost'), undefined, itMil)).message).toBe('metadata.namespace: tenant-namespace: namespace tenant-ghost belongs to no tenant: tenant ghost does not exist (or does not own the namespace yet)');
    expect(denied(checkSpaceResidency(space('a', {}, 'default'), undefined, itMil)).message).toContain('namespace default is not a tenant namespace');
  });
});

describe('tenant namespaces', () => {
  it('belong to a tenant only when named and labelled for it', () => {
    expect(tenantOfNamespace({ metadata: { name: 'tenant-acme', labels: { 'tenantbackup.io/tenant': 'acme' } } })).toBe('acme');
    expect(tenantOfNamespace({ metadata: { name: 'tenant-acme' } })).toBeUndefined();
    expect(tenantOfNamespace({ metadata: { name: 'tenant-acme', labels: { 'tenantbackup.io/tenant': 'other' } } })).toBeUndefined();
    expect(tenantNameFromNamespace('tenant-acme')).toBe('acme');
    expect(tenantNameFromNamespace('tenant-')).toBeUndefined();
    expect(tenantNameFromNamespace('kube-system')).toBeUndefined();
  });
});

describe('checkSpaceCustody', () => {
  const customer = tenant('vault', { security: { keyCustody: 'customer' } });

  it('inherits the tenant\'s custody', () => {
    expect(effectiveCustody(space('a'), customer)).toBe('customer');
    expect(effectiveCustody(space('a'), acme)).toBe('provider');
    expect(effectiveCustody(space('a', { encryption: { keyCustody: 'customer' } }), acme)).toBe('customer');
  });

  it('refuses provider custody under a customer-custody tenant', () => {
    const result = denied(checkSpaceCustody(space('a', { encryption: { keyCustody: 'provider' } }), customer));
    expect(result).toMatchObject({ field: 'spec.encryption.keyCustody', rule: 'custody' });
    expect(result.message).toContain('tenant vault requires customer key custody');
  });

  it('allows a stronger custody than the tenant\'s, and the inherited one', () => {
    const password = { customerPasswordSecretRef: { name: 'pw' } };
    expect(checkSpaceCustody(space('a', { encryption: { keyCustody: 'customer', ...password } }), acme).allowed).toBe(true);
    expect(checkSpaceCustody(space('a', { encryption: password }), customer).allowed).toBe(true);
  });
});

describe('checkSpaceFitsQuota', () => {
  const others = [space('one', { size: '50Gi' }), space('two', { size: '30Gi' })];

  it('allows spaces that fit exactly', () => {
    expect(checkSpaceFitsQuota(space('three', { size: '20Gi' }), others, acme).allowed).toBe(true);
  });

  it('refuses a space past the quota with used, requested and limit', () => {
    const result = denied(checkSpaceFitsQuota(space('three', { size: '30Gi' }), others, acme));
    expect(result).toMatchObject({ field: 'spec.size', rule: 'quota' });
    expect(result.message).toBe('spec.size: quota: tenant acme\'s storage quota is 100Gi: its other spaces use 80Gi and this space asks for 30Gi, 110Gi in all (20Gi left)');
  });

  it('counts an updated space once, at its new size', () => {
    expect(checkSpaceFitsQuota(space('one', { size: '70Gi' }), others, acme).allowed).toBe(true);
    expect(checkSpaceFitsQuota(space('one', { size: '71Gi' }), others, acme).allowed).toBe(false);
  });

  it('compares decimal and binary units exactly', () => {
    const small = tenant('acme', { quotas: { storage: '1G' } });
    expect(checkSpaceFitsQuota(space('a', { size: '1Gi' }), [], small).allowed).toBe(false);
    expect(checkSpaceFitsQuota(space('a', { size: '1000M' }), [], small).allowed).toBe(true);
    expect(checkSpaceFitsQuota(space('a', { size: 1_000_000_000 }), [], small).allowed).toBe(true);
  });

  describe('when the quota was lowered below what the spaces hold (admission bypassed)', () => {
    const lowered = tenant('acme', { quotas: { storage: '50Gi' } });
    /** A space and the storage its volume claim requests (what it holds). */
    const built = (name: string, size: string, held: string) => [space(name, { size }), others, lowered, held] as const;

    it('allows an existing space at the size its volume holds: its upkeep keeps running', () => {
      expect(checkSpaceFitsQuota(...built('one', '50Gi', '50Gi'))).toEqual({ allowed: true });
      expect(checkSpaceFitsQuota(...built('two', '30Gi', '30Gi'))).toEqual({ allowed: true });
      // Requested in other units, or bigger: still what it holds.
      expect(checkSpaceFitsQuota(...built('two', '30Gi', '32212254720')).allowed).toBe(true);
    });

    it('refuses a grown space and a new one, counting every other space at its size', () => {
      const grown = denied(checkSpaceFitsQuota(...built('one', '51Gi', '50Gi')));
      expect(grown.message).toBe('spec.size: quota: tenant acme\'s storage quota is 50Gi: its other spaces use 30Gi and this space asks for 51Gi, 81Gi in all (20Gi left)');
      expect(denied(checkSpaceFitsQuota(space('three', { size: '1Gi' }), others, lowered)).message).toContain('its other spaces use 80Gi and this space asks for 1Gi, 81Gi in all (0 left)');
      // No volume claim yet, whatever its status says, or an unreadable request: a new space.
      expect(checkSpaceFitsQuota({ ...space('one', { size: '50Gi' }), status: { keyId: 'k1-0000000000000000' } }, others, lowered).allowed).toBe(false);
      expect(checkSpaceFitsQuota(...built('one', '50Gi', 'lots')).allowed).toBe(false);
    });

    it('still refuses a size that is not a quantity, whatever the volume holds', () => {
      expect(denied(checkSpaceFitsQuota(...built('one', '-1Gi', '50Gi'))).rule).toBe('quantity');
    });
  });

  it('refuses sizes that are not positive quantities (a negative size would free quota)', () => {
    expect(denied(checkSpaceFitsQuota(space('a', { size: '-10Gi' }), others, acme))).toMatchObject({ rule: 'quantity', field: 'spec.size' });
    expect(denied(checkSpaceFitsQuota(space('a', { size: '0' }), others, acme)).message).toContain('greater than zero');
    expect(denied(checkSpaceFitsQuota(space('a', { size: '1e999999' }), others, acme)).message).toContain('out of range');
  });
});

describe('a tenant\'s storage quota against what its spaces hold', () => {
  const spaces = [space('b', { size: '15Gi' }), space('a', { size: '10Gi' })];
  const at = (storage: string) => tenant('acme', { quotas: { storage } });

  it('finds a tenant over its quota, listing the spaces by name', () => {
    expect(storageOverQuota(at('25Gi'), spaces)).toBeUndefined();
    const over = storageOverQuota(at('20Gi'), spaces);
    expect(over).toEqual({ used: 25n * 1024n ** 3n, limit: 20n * 1024n ** 3n, spaces: ['tenant-acme/a (10Gi)', 'tenant-acme/b (15Gi)'] });
    expect(describeStorageUse(over!)).toBe('2 space(s) hold 25Gi: tenant-acme/a (10Gi), tenant-acme/b (15Gi)');
  });

  it('refuses lowering the quota below what the spaces hold, naming the field, the sum and the spaces', () => {
    const result = denied(checkTenantQuotaChange(at('20Gi'), at('100Gi'), spaces));
    expect(result).toMatchObject({ field: 'spec.quotas.storage', rule: 'quota-change' });
    expect(result.message).toBe('spec.quotas.storage: quota-change: tenant acme\'s 2 space(s) hold 25Gi: tenant-acme/a (10Gi), tenant-acme/b (15Gi), more than the new storage quota of 20Gi; a space cannot shrink, so lower the quota to no less than 25Gi, or delete spaces first');
  });

  it('allows lowering to exactly what is held, and raising a quota that is still too low', () => {
    expect(checkTenantQuotaChange(at('25Gi'), at('100Gi'), spaces)).toEqual({ allowed: true });
    expect(checkTenantQuotaChange(at('26843545600'), at('100Gi'), spaces).allowed).toBe(true);
    expect(checkTenantQuotaChange(at('20Gi'), at('5Gi'), spaces)).toEqual({ allowed: true });
    expect(checkTenantQuotaChange(at('1Gi'), at('100Gi'), [])).toEqual({ allowed: true });
  });
});

describe('checkSpaceCustody: the customer\'s password', () => {
  const customer = tenant('vault', { security: { keyCustody: 'customer' } });
  const password = { customerPasswordSecretRef: { name: 'pw' } };

  it('admits a new customer-custody space with or without a password Secret: the customer may set the password at the gateway', () => {
    expect(checkSpaceCustody(space('a', {}, 'tenant-vault'), customer)).toEqual({ allowed: true });
    expect(checkSpaceCustody(space('a', { encryption: { keyCustody: 'customer' } }), acme)).toEqual({ allowed: true });
    expect(checkSpaceCustody(space('a', { encryption: password }, 'tenant-vault'), customer)).toEqual({ allowed: true });
    expect(checkSpaceCustody(space('a'), acme)).toEqual({ allowed: true });
  });
});

describe('what a datacenter must offer a new space', () => {
  const pooled: Datacenter = { ...itMil, spec: { ...itMil.spec, addressPool: { addresses: ['198.51.100.8/30', '2001:db8::5'] } } };
  const stalled: Datacenter = { ...itMil, status: { conditions: [{ type: 'Stalled', status: 'True', reason: 'NoMatchingNodes', message: 'no node matches spec.nodeSelector; check the labels of the datacenter\'s nodes', lastTransitionTime: '2026-01-01T00:00:00Z' }] } };
  const withAddress = (name: string, fixedAddress: BackupSpace['spec']['fixedAddress'], address?: string, namespace = 'tenant-acme'): BackupSpace => ({ ...space(name, { fixedAddress }, namespace), ...(address ? { status: { address } } : {}) });

  it('refuses a datacenter that is Stalled, with its reason, and only for a space not built yet', () => {
    const result = denied(checkDatacenterReady(space('a'), stalled));
    expect(result).toMatchObject({ field: 'spec.datacenter', rule: 'datacenter-ready' });
    expect(result.message).toBe('spec.datacenter: datacenter-ready: datacenter it-mil1 cannot host new spaces: it is Stalled (NoMatchingNodes: no node matches spec.nodeSelector; check the labels of the datacenter\'s nodes); choose another datacenter, or wait until the provider has put it right');
    expect(denied(checkSpaceResidency(space('a'), acme, stalled)).rule).toBe('datacenter-ready');
    // A space that runs there keeps its upkeep while the provider puts the datacenter right.
    expect(checkSpaceResidency({ ...space('a'), status: { keyId: 'k1-0000000000000000' } }, acme, stalled)).toEqual({ allowed: true });
    expect(checkDatacenterReady(space('a'), itMil)).toEqual({ allowed: true });
  });

  it('refuses a fixed address from a datacenter without a pool, or outside its pool', () => {
    const none = denied(checkSpaceAddressPool(withAddress('a', {}), itMil));
    expect(none).toMatchObject({ field: 'spec.fixedAddress', rule: 'address-pool' });
    expect(none.message).toBe('spec.fixedAddress: address-pool: datacenter it-mil1 has no address pool, so it has no fixed address to give; remove fixedAddress, or choose a datacenter with an address pool');
    const outside = denied(checkSpaceAddressPool(withAddress('a', { ip: '198.51.100.12' }), pooled));
    expect(outside).toMatchObject({ field: 'spec.fixedAddress.ip', rule: 'address-pool' });
    expect(outside.message).toBe('spec.fixedAddress.ip: address-pool: 198.51.100.12 is not in the address pool of datacenter it-mil1 (198.51.100.8/30, 2001:db8::5); choose an address of the pool, or leave ip out to get the first free one');
    expect(checkSpaceAddressPool(withAddress('a', { ip: '198.51.100.9' }), pooled)).toEqual({ allowed: true });
    expect(checkSpaceAddressPool(withAddress('a', { ip: '2001:db8::5' }), pooled)).toEqual({ allowed: true });
    expect(checkSpaceAddressPool(space('a'), itMil)).toEqual({ allowed: true });
    expect(denied(checkSpaceResidency(withAddress('a', {}), acme, itMil)).rule).toBe('address-pool');
  });

  it('refuses an address another space holds or asks for, without naming that space', () => {
    const others = [withAddress('held', {}, '198.51.100.9', 'tenant-other'), withAddress('asked', { ip: '198.51.100.10' }, undefined, 'tenant-other')];
    const held = denied(checkSpaceAddressFree(withAddress('a', { ip: '198.51.100.9' }), pooled, others));
    expect(held).toMatchObject({ field: 'spec.fixedAddress.ip', rule: 'address-taken' });
    expect(held.message).toBe('spec.fixedAddress.ip: address-taken: 198.51.100.9 of datacenter it-mil1\'s pool is already used by another space; choose another address of the pool (198.51.100.8/30, 2001:db8::5), or leave ip out to get the first free one');
    expect(held.message).not.toContain('tenant-other');
    expect(checkSpaceAddressFree(withAddress('a', { ip: '198.51.100.10' }), pooled, others).allowed).toBe(false);
    expect(checkSpaceAddressFree(withAddress('a', { ip: '2001:db8::5' }), pooled, others)).toEqual({ allowed: true });
    // Its own address, and itself among the spaces, are not someone else's.
    expect(checkSpaceAddressFree(withAddress('held', { ip: '198.51.100.9' }, '198.51.100.9', 'tenant-other'), pooled, others)).toEqual({ allowed: true });
    expect(checkSpaceAddressFree(withAddress('asked', { ip: '198.51.100.10' }, undefined, 'tenant-other'), pooled, others)).toEqual({ allowed: true });
  });

  it('refuses a fixed address when every address of the pool is taken', () => {
    const small: Datacenter = { ...itMil, spec: { ...itMil.spec, addressPool: { addresses: ['198.51.100.8/30'] } } };
    const full = [withAddress('x', {}, '198.51.100.9', 'tenant-other'), withAddress('y', { ip: '198.51.100.10' }, undefined, 'tenant-other')];
    const result = denied(checkSpaceAddressFree(withAddress('a', {}), small, full));
    expect(result).toMatchObject({ field: 'spec.fixedAddress', rule: 'address-pool' });
    expect(result.message).toContain('every address of datacenter it-mil1\'s pool (198.51.100.8/30, 2 address(es)) is taken');
    expect(checkSpaceAddressFree(withAddress('a', {}), small, full.slice(1))).toEqual({ allowed: true });
    expect(checkSpaceAddressFree(withAddress('x', {}, '198.51.100.9', 'tenant-other'), small, full)).toEqual({ allowed: true });
  });
});

describe('checkSpaceReplicas', () => {
  const rwo = datacenter('it-mil1', 'IT', 'ReadWriteOnce');

  it('allows any replicas on ReadWriteMany storage (the default)', () => {
    expect(checkSpaceReplicas(space('a', { replicas: 3 }), itMil).allowed).toBe(true);
    expect(checkSpaceReplicas(space('a', { replicas: 3 }), datacenter('x', 'IT', 'ReadWriteMany')).allowed).toBe(true);
  });

  it('requires one replica on ReadWriteOnce storage, counting the default of 2', () => {
    expect(checkSpaceReplicas(space('a', { replicas: 1 }), rwo).allowed).toBe(true);
    expect(denied(checkSpaceReplicas(space('a', { replicas: 2 }), rwo)).message).toBe('spec.replicas: replicas: datacenter it-mil1 has ReadWriteOnce storage, which one replica at a time can mount; set replicas to 1 (it is 2)');
    expect(denied(checkSpaceReplicas(space('a'), rwo)).field).toBe('spec.replicas');
  });
});

describe('checkEndpointSpaceRef', () => {
  it('allows the own namespace, explicit or implied', () => {
    expect(checkEndpointSpaceRef(endpoint({ name: 's' })).allowed).toBe(true);
    expect(checkEndpointSpaceRef(endpoint({ name: 's', namespace: 'tenant-acme' })).allowed).toBe(true);
  });

  it('refuses a space of another namespace', () => {
    const result = denied(checkEndpointSpaceRef(endpoint({ name: 's', namespace: 'tenant-other' })));
    expect(result).toMatchObject({ field: 'spec.spaceRef.namespace', rule: 'same-namespace' });
    expect(result.message).toContain('not one in tenant-other');
  });
});

describe('checkTenantResidencyChange', () => {
  const spaces = [space('a'), space('b', { datacenter: 'de-fra1' }), space('c', { datacenter: 'gone' })];

  it('allows an edit that keeps every space allowed', () => {
    expect(checkTenantResidencyChange(tenant('acme', { residency: { countries: ['IT', 'DE', 'FR'] } }), spaces, [itMil, deFra]).allowed).toBe(true);
  });

  it('refuses an edit that strands a space, naming it', () => {
    const result = denied(checkTenantResidencyChange(tenant('acme', { residency: { countries: ['IT'] } }), spaces, [itMil, deFra]));
    expect(result).toMatchObject({ field: 'spec.residency', rule: 'residency-change' });
    expect(result.message).toContain('would strand 1 existing space(s): tenant-acme/b (de-fra1, DE)');
    expect(result.message).toContain('datacenter de-fra1 is in DE, but tenant acme allows only IT');
  });

  it('applies to the datacenter list too', () => {
    const result = denied(checkTenantResidencyChange(tenant('acme', { residency: { datacenters: ['de-fra1'] } }), spaces, [itMil, deFra]));
    expect(result.message).toContain('tenant-acme/a (it-mil1, IT)');
  });
});

describe('checkDatacenterDeletion', () => {
  it('allows deleting an empty datacenter', () => {
    expect(checkDatacenterDeletion(deFra, [space('a')]).allowed).toBe(true);
  });

  it('refuses deleting a datacenter that hosts spaces, listing them', () => {
    const hosted = Array.from({ length: 7 }, (_, i) => space(`s${i}`, { datacenter: 'de-fra1' }));
    const result = denied(checkDatacenterDeletion(deFra, hosted));
    expect(result).toMatchObject({ field: 'metadata.name', rule: 'datacenter-in-use' });
    expect(result.message).toContain('datacenter de-fra1 still hosts 7 space(s): tenant-acme/s0, tenant-acme/s1, tenant-acme/s2, tenant-acme/s3, tenant-acme/s4 and 2 more');
  });
});

describe('helpers', () => {
  it('turns rules into condition reasons', () => {
    expect(ruleReason('datacenter-in-use')).toBe('DatacenterInUse');
    expect(ruleReason('residency')).toBe('Residency');
  });

  it('picks the first refusal', () => {
    const refusal = checkEndpointSpaceRef(endpoint({ name: 's', namespace: 'x' }));
    expect(firstDenied({ allowed: true }, refusal, checkSpaceReplicas(space('a'), datacenter('d', 'IT', 'ReadWriteOnce')))).toBe(refusal);
    expect(firstDenied({ allowed: true })).toEqual({ allowed: true });
  });
});
