import { describe, expect, it } from 'vitest';
import type { NamespaceMeta } from '../admission/rules.ts';
import type { NodeMeta } from '../controllers/datacenter/nodes.ts';
import type { BackupSpace, Datacenter, Tenant } from '../api/types.ts';
import type { AdmissionRequest, Verdict } from './review.ts';
import { admit, ROUTES, type AdmissionLookups } from './validators.ts';

function tenant(name: string, spec: Partial<Tenant['spec']> = {}): Tenant {
  return {
    apiVersion: 'tenantbackup.io/v1alpha1',
    kind: 'Tenant',
    metadata: { name },
    spec: { displayName: name, contacts: [{ name: 'A', email: 'a@example.com' }], residency: { countries: ['IT'] }, quotas: { storage: '20Gi' }, ...spec },
  };
}

function datacenter(name: string, country: string, accessMode?: 'ReadWriteOnce'): Datacenter {
  return { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Datacenter', metadata: { name }, spec: { country, nodeSelector: { matchLabels: { z: name } }, storage: { storageClassName: 'sc', ...(accessMode ? { accessMode } : {}) } } };
}

function space(name: string, spec: Partial<BackupSpace['spec']> = {}, namespace = 'tenant-acme'): BackupSpace {
  return { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'BackupSpace', metadata: { name, namespace }, spec: { size: '5Gi', datacenter: 'it-mil1', replicas: 2, ...spec } };
}

/** Nodes labelled as the datacenters above select them (`z`), with their country. */
function node(name: string, zone: string, country: string | undefined): NodeMeta {
  return { metadata: { name, labels: { z: zone, ...(country ? { 'tenantbackup.io/country': country } : {}) } } };
}

const NODES = [
  node('mil-1', 'it-mil1', 'IT'), node('mil-2', 'it-mil1', 'IT'),
  node('rom-1', 'it-rom1', 'IT'),
  node('fra-1', 'de-fra1', 'DE'), node('fra-2', 'de-fra1', 'DE'),
  node('spare-1', 'it-spare', 'IT'),
  node('unlabelled', 'it-odd', undefined),
];

function lookups(state: { tenants?: Tenant[]; datacenters?: Datacenter[]; spaces?: BackupSpace[]; synced?: boolean; namespaces?: NamespaceMeta[] } = {}): AdmissionLookups {
  const tenants = state.tenants ?? [tenant('acme'), tenant('vault', { security: { keyCustody: 'customer' } })];
  const datacenters = state.datacenters ?? [datacenter('it-mil1', 'IT'), datacenter('de-fra1', 'DE'), datacenter('it-rwo', 'IT', 'ReadWriteOnce')];
  const spaces = state.spaces ?? [space('existing', { size: '10Gi' })];
  return {
    synced: () => state.synced ?? true,
    tenant: (name) => tenants.find((t) => t.metadata.name === name),
    tenantOfNamespace: (namespace) => tenants.find((t) => `tenant-${t.metadata.name}` === namespace)?.metadata.name,
    datacenter: (name) => datacenters.find((d) => d.metadata.name === name),
    datacenters: () => datacenters,
    spacesIn: (namespace) => spaces.filter((s) => s.metadata.namespace === namespace),
    spaces: () => spaces,
    namespace: (name) => state.namespaces?.find((n) => n.metadata.name === name),
    reservedNamespaces: () => ['tenant-backup-system', 'monitoring'],
    nodes: () => NODES,
  };
}

const RESOURCES = { BackupSpace: 'backupspaces', Endpoint: 'endpoints', Tenant: 'tenants', Datacenter: 'datacenters' } as const;

function request(kind: keyof typeof RESOURCES, operation: AdmissionRequest['operation'], object: unknown, oldObject?: unknown, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  const metadata = ((object ?? oldObject) as { metadata?: { name?: string; namespace?: string } } | undefined)?.metadata;
  return {
    uid: 'uid-1',
    kind: { group: 'tenantbackup.io', version: 'v1alpha1', kind },
    resource: { group: 'tenantbackup.io', version: 'v1alpha1', resource: RESOURCES[kind] },
    operation,
    ...(metadata?.name ? { name: metadata.name } : {}),
    ...(metadata?.namespace ? { namespace: metadata.namespace } : {}),
    ...(object !== undefined ? { object } : {}),
    ...(oldObject !== undefined ? { oldObject } : {}),
    ...extra,
  };
}

function judge(path: string, review: AdmissionRequest, state = lookups()): Verdict {
  const route = ROUTES[path];
  if (!route) throw new Error(`no route ${path}`);
  return admit(route, review, state);
}

function message(verdict: Verdict): string {
  if (verdict.allowed) throw new Error('expected a refusal');
  return verdict.status.message;
}

const SPACES = '/validate/backupspaces';

describe('backupspaces', () => {
  it('admits a space that keeps every rule', () => {
    expect(judge(SPACES, request('BackupSpace', 'CREATE', space('new')))).toEqual({ allowed: true });
  });

  it('refuses a space outside the tenant\'s countries', () => {
    const verdict = judge(SPACES, request('BackupSpace', 'CREATE', space('new', { datacenter: 'de-fra1' })));
    expect(verdict).toMatchObject({ allowed: false, status: { code: 403 } });
    expect(message(verdict)).toBe('spec.datacenter: residency: datacenter de-fra1 is in DE, but tenant acme allows only IT');
  });

  it('takes the namespace from the request when the object omits it', () => {
    const object = space('new', { datacenter: 'de-fra1' });
    delete object.metadata.namespace;
    expect(message(judge(SPACES, request('BackupSpace', 'CREATE', object, undefined, { namespace: 'tenant-acme' })))).toContain('tenant acme allows only IT');
  });

  it('refuses a space in a namespace no tenant owns, a missing datacenter, custody downgrade, replicas on RWO, quota', () => {
    expect(message(judge(SPACES, request('BackupSpace', 'CREATE', space('new', {}, 'default'))))).toContain('metadata.namespace: tenant-namespace');
    expect(message(judge(SPACES, request('BackupSpace', 'CREATE', space('new', { datacenter: 'nowhere' }))))).toContain('spec.datacenter: datacenter-exists');
    expect(message(judge(SPACES, request('BackupSpace', 'CREATE', space('new', { encryption: { keyCustody: 'provider' } }, 'tenant-vault'))))).toContain('spec.encryption.keyCustody: custody');
    expect(judge(SPACES, request('BackupSpace', 'CREATE', space('new', { datacenter: 'it-rwo' })))).toMatchObject({ allowed: false, status: { code: 422 } });
    expect(message(judge(SPACES, request('BackupSpace', 'CREATE', space('new', { size: '11Gi' }))))).toContain('spec.size: quota: tenant acme\'s storage quota is 20Gi: its other spaces use 10Gi and this space asks for 11Gi');
  });

  it('lets metadata-only updates through even when the space breaks a rule (finalizers must always be removable)', () => {
    const broken = space('existing', { datacenter: 'de-fra1', size: '50Gi' });
    const withFinalizer = { ...broken, metadata: { ...broken.metadata, finalizers: ['x'] } };
    expect(judge(SPACES, request('BackupSpace', 'UPDATE', broken, withFinalizer))).toEqual({ allowed: true });
    const deleting = { ...broken, metadata: { ...broken.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' }, spec: { ...broken.spec, size: '60Gi' } };
    expect(judge(SPACES, request('BackupSpace', 'UPDATE', deleting, broken))).toEqual({ allowed: true });
  });

  it('on update, judges only what changed: growth against the quota, replicas against the storage', () => {
    const current = space('existing', { size: '10Gi' });
    expect(judge(SPACES, request('BackupSpace', 'UPDATE', space('existing', { size: '20Gi' }), current))).toEqual({ allowed: true });
    expect(message(judge(SPACES, request('BackupSpace', 'UPDATE', space('existing', { size: '21Gi' }), current)))).toContain('spec.size: quota');
    // Over quota already (the quota was lowered): other edits still pass.
    const tight = lookups({ tenants: [tenant('acme', { quotas: { storage: '5Gi' } })] });
    expect(judge(SPACES, request('BackupSpace', 'UPDATE', space('existing', { size: '10Gi', replicas: 3 }), current), tight)).toEqual({ allowed: true });
    const rwo = space('r', { datacenter: 'it-rwo', replicas: 1, size: '1Gi' });
    expect(message(judge(SPACES, request('BackupSpace', 'UPDATE', { ...rwo, spec: { ...rwo.spec, replicas: 2 } }, rwo)))).toContain('spec.replicas: replicas');
  });

  describe('what a new space needs of its datacenter and its custody', () => {
    const pooled = { ...datacenter('it-rom1', 'IT'), spec: { ...datacenter('it-rom1', 'IT').spec, addressPool: { addresses: ['198.51.100.8/30'] } } };
    const stalled = { ...datacenter('it-bad', 'IT'), status: { conditions: [{ type: 'Stalled', status: 'True' as const, reason: 'NoReadyNodes', message: '3 node(s) match spec.nodeSelector but none is Ready and schedulable', lastTransitionTime: '2026-01-01T00:00:00Z' }] } };
    const holder = { ...space('holder', { datacenter: 'it-rom1', size: '1Gi', fixedAddress: {} }, 'tenant-other'), status: { address: '198.51.100.9', keyId: 'k1-0000000000000000' } };
    const state = lookups({ datacenters: [datacenter('it-mil1', 'IT'), pooled, stalled], spaces: [space('existing', { size: '10Gi' }), holder] });
    const create = (object: BackupSpace) => judge(SPACES, request('BackupSpace', 'CREATE', object), state);

    it('refuses a fixed address without a pool, outside the pool, or taken, naming the field', () => {
      expect(message(create(space('new', { size: '1Gi', fixedAddress: {} })))).toBe('spec.fixedAddress: address-pool: datacenter it-mil1 has no address pool, so it has no fixed address to give; remove fixedAddress, or choose a datacenter with an address pool');
      expect(message(create(space('new', { datacenter: 'it-rom1', size: '1Gi', fixedAddress: { ip: '198.51.100.20' } })))).toContain('spec.fixedAddress.ip: address-pool: 198.51.100.20 is not in the address pool of datacenter it-rom1 (198.51.100.8/30)');
      const taken = create(space('new', { datacenter: 'it-rom1', size: '1Gi', fixedAddress: { ip: '198.51.100.9' } }));
      expect(taken).toMatchObject({ allowed: false, status: { code: 403, details: { causes: [{ field: 'spec.fixedAddress.ip' }] } } });
      expect(message(taken)).toContain('spec.fixedAddress.ip: address-taken: 198.51.100.9 of datacenter it-rom1\'s pool is already used by another space');
      expect(create(space('new', { datacenter: 'it-rom1', size: '1Gi', fixedAddress: { ip: '198.51.100.10' } }))).toEqual({ allowed: true });
      expect(create(space('new', { datacenter: 'it-rom1', size: '1Gi', fixedAddress: {} }))).toEqual({ allowed: true });
    });

    it('judges a changed fixed address on update, and leaves an unchanged one alone', () => {
      const current = { ...space('mine', { datacenter: 'it-rom1', size: '1Gi', fixedAddress: {} }), status: { address: '198.51.100.10', keyId: 'k1-0000000000000000' } };
      const moved = { ...current, spec: { ...current.spec, fixedAddress: { ip: '198.51.100.9' } } };
      expect(message(judge(SPACES, request('BackupSpace', 'UPDATE', moved, current), state))).toContain('address-taken');
      const pinned = { ...current, spec: { ...current.spec, fixedAddress: { ip: '198.51.100.10' } } };
      expect(judge(SPACES, request('BackupSpace', 'UPDATE', pinned, current), state)).toEqual({ allowed: true });
      const grown = { ...current, spec: { ...current.spec, size: '2Gi' } };
      expect(judge(SPACES, request('BackupSpace', 'UPDATE', grown, current), lookups({ datacenters: [datacenter('it-mil1', 'IT')], spaces: [] }))).toEqual({ allowed: true });
    });

    it('refuses a new space in a Stalled datacenter, with the datacenter\'s reason', () => {
      const verdict = create(space('new', { datacenter: 'it-bad', size: '1Gi' }));
      expect(verdict).toMatchObject({ allowed: false, status: { code: 403 } });
      expect(message(verdict)).toBe('spec.datacenter: datacenter-ready: datacenter it-bad cannot host new spaces: it is Stalled (NoReadyNodes: 3 node(s) match spec.nodeSelector but none is Ready and schedulable); choose another datacenter, or wait until the provider has put it right');
    });

    it('admits customer custody without the password Secret: the customer sets the password at the gateway', () => {
      expect(judge(SPACES, request('BackupSpace', 'CREATE', space('new', { size: '1Gi' }, 'tenant-vault')))).toEqual({ allowed: true });
      expect(judge(SPACES, request('BackupSpace', 'CREATE', space('new', { size: '1Gi', encryption: { customerPasswordSecretRef: { name: 'pw' } } }, 'tenant-vault')))).toEqual({ allowed: true });
    });
  });

  it('refuses while the caches are not synced, saying so', () => {
    const verdict = judge(SPACES, request('BackupSpace', 'CREATE', space('new')), lookups({ synced: false }));
    expect(verdict).toMatchObject({ allowed: false, status: { code: 503 } });
    expect(message(verdict)).toContain('has not read the cluster yet');
  });

  it('leaves sub-resources alone and refuses requests for another resource', () => {
    expect(judge(SPACES, request('BackupSpace', 'UPDATE', space('x', { datacenter: 'de-fra1' }), space('x'), { subResource: 'status' }))).toEqual({ allowed: true });
    const wrong = judge(SPACES, request('Tenant', 'CREATE', tenant('acme')));
    expect(wrong).toMatchObject({ allowed: false, status: { code: 400 } });
    expect(message(wrong)).toContain('validates backupspaces.tenantbackup.io, not tenants.tenantbackup.io');
  });

  it('answers malformed objects with 400, not a crash', () => {
    expect(judge(SPACES, request('BackupSpace', 'CREATE', { metadata: { name: 'x' } }))).toMatchObject({ allowed: false, status: { code: 400, message: 'the request\'s object has no metadata or spec' } });
    expect(judge(SPACES, request('BackupSpace', 'CREATE', undefined))).toMatchObject({ allowed: false, status: { code: 400 } });
    expect(judge(SPACES, request('BackupSpace', 'CREATE', { metadata: { name: 'x', namespace: 'tenant-acme' }, spec: {} }))).toMatchObject({ allowed: false });
  });
});

describe('endpoints', () => {
  const endpoint = (namespace?: string) => ({ metadata: { name: 'laptop', namespace: 'tenant-acme' }, spec: { spaceRef: { name: 's', ...(namespace ? { namespace } : {}) }, kind: 'Desktop', selection: { include: ['/'] } } });

  it('refuses a space of another namespace with 422', () => {
    const verdict = judge('/validate/endpoints', request('Endpoint', 'CREATE', endpoint('tenant-other')));
    expect(verdict).toMatchObject({ allowed: false, status: { code: 422 } });
    expect(message(verdict)).toContain('spec.spaceRef.namespace: same-namespace');
  });

  it('admits its own namespace, and works before the caches are synced', () => {
    expect(judge('/validate/endpoints', request('Endpoint', 'CREATE', endpoint('tenant-acme')), lookups({ synced: false }))).toEqual({ allowed: true });
    expect(judge('/validate/endpoints', request('Endpoint', 'CREATE', endpoint()))).toEqual({ allowed: true });
  });
});

describe('tenants', () => {
  const spaces = [space('it-data'), space('de-data', { datacenter: 'de-fra1' })];
  const state = lookups({ spaces });
  const before = tenant('acme', { residency: { countries: ['IT', 'DE'] } });

  it('refuses a residency edit that strands a space', () => {
    const after = tenant('acme', { residency: { countries: ['IT'] } });
    const verdict = judge('/validate/tenants', request('Tenant', 'UPDATE', after, before), state);
    expect(verdict).toMatchObject({ allowed: false, status: { code: 403 } });
    expect(message(verdict)).toContain('spec.residency: residency-change: the new residency would strand 1 existing space(s): tenant-acme/de-data (de-fra1, DE)');
  });

  it('allows edits that keep residency, or keep every space allowed', () => {
    expect(judge('/validate/tenants', request('Tenant', 'UPDATE', { ...before, spec: { ...before.spec, displayName: 'x' } }, before), state)).toEqual({ allowed: true });
    const wider = tenant('acme', { residency: { countries: ['IT', 'DE', 'FR'] } });
    expect(judge('/validate/tenants', request('Tenant', 'UPDATE', wider, before), state)).toEqual({ allowed: true });
    expect(judge('/validate/tenants', request('Tenant', 'CREATE', tenant('fresh')), state)).toEqual({ allowed: true });
  });

  it('refuses lowering the storage quota below what the spaces hold, naming the field, the sum and the spaces', () => {
    const held = lookups({ spaces: [space('b', { size: '15Gi' }), space('a', { size: '10Gi' }), space('elsewhere', { size: '99Gi' }, 'tenant-other')] });
    const at = (storage: string) => tenant('acme', { quotas: { storage } });
    const verdict = judge('/validate/tenants', request('Tenant', 'UPDATE', at('20Gi'), at('100Gi')), held);
    expect(verdict).toMatchObject({ allowed: false, status: { code: 403, details: { causes: [{ field: 'spec.quotas.storage' }] } } });
    expect(message(verdict)).toBe('spec.quotas.storage: quota-change: tenant acme\'s 2 space(s) hold 25Gi: tenant-acme/a (10Gi), tenant-acme/b (15Gi), more than the new storage quota of 20Gi; a space cannot shrink, so lower the quota to no less than 25Gi, or delete spaces first');
    // Down to what is held, up from below it, and edits that leave the quota alone: admitted.
    expect(judge('/validate/tenants', request('Tenant', 'UPDATE', at('25Gi'), at('100Gi')), held)).toEqual({ allowed: true });
    expect(judge('/validate/tenants', request('Tenant', 'UPDATE', at('20Gi'), at('10Gi')), held)).toEqual({ allowed: true });
    const over = at('10Gi');
    expect(judge('/validate/tenants', request('Tenant', 'UPDATE', { ...over, spec: { ...over.spec, displayName: 'x' } }, over), held)).toEqual({ allowed: true });
  });

  it('refuses a new tenant whose namespace is the operator\'s, an admin namespace, or someone else\'s', () => {
    const foreign = { metadata: { name: 'tenant-shop', labels: { team: 'web' } } };
    const lookalike = { metadata: { name: 'tenant-mimic', labels: { 'tenantbackup.io/tenant': 'other' } } };
    const own = { metadata: { name: 'tenant-back', labels: { 'tenantbackup.io/tenant': 'back' } } };
    const withNamespaces = lookups({ namespaces: [foreign, lookalike, own] });
    const create = (name: string) => judge('/validate/tenants', request('Tenant', 'CREATE', tenant(name)), withNamespaces);
    expect(message(create('backup-system'))).toBe('metadata.name: namespace-taken: tenant backup-system would live in namespace tenant-backup-system, which is reserved for the provider (the operator\'s or an admin namespace); choose another tenant name');
    expect(message(create('shop'))).toBe('metadata.name: namespace-taken: tenant shop would live in namespace tenant-shop, which already exists and does not belong to this tenant; choose another tenant name');
    expect(message(create('mimic'))).toContain('namespace-taken');
    expect(create('shop')).toMatchObject({ allowed: false, status: { code: 403 } });
    // Its own namespace (a tenant re-created while its namespace remains), or none yet: admitted.
    expect(create('back')).toEqual({ allowed: true });
    expect(create('newcomer')).toEqual({ allowed: true });
    // An update never re-judges the name.
    const backupSystem = tenant('backup-system');
    expect(judge('/validate/tenants', request('Tenant', 'UPDATE', { ...backupSystem, spec: { ...backupSystem.spec, displayName: 'x' } }, backupSystem), withNamespaces)).toEqual({ allowed: true });
  });
});

describe('datacenters', () => {
  const state = lookups({ spaces: [space('a', { datacenter: 'de-fra1' })] });

  it('refuses deleting a datacenter that hosts spaces', () => {
    const verdict = judge('/validate/datacenters', request('Datacenter', 'DELETE', undefined, datacenter('de-fra1', 'DE')), state);
    expect(message(verdict)).toBe('metadata.name: datacenter-in-use: datacenter de-fra1 still hosts 1 space(s): tenant-acme/a; delete or move them first');
  });

  it('uses the request name when the API server sends no oldObject', () => {
    expect(judge('/validate/datacenters', request('Datacenter', 'DELETE', undefined, undefined, { name: 'de-fra1' }), state)).toMatchObject({ allowed: false });
    expect(judge('/validate/datacenters', request('Datacenter', 'DELETE', undefined, undefined, { name: 'it-mil1' }), state)).toEqual({ allowed: true });
  });

});

describe('datacenter edits', () => {
  const DATACENTERS = '/validate/datacenters';
  const milan = datacenter('it-mil1', 'IT');
  const rome = datacenter('it-rom1', 'IT');
  const hosting = lookups({ datacenters: [milan, rome, datacenter('de-fra1', 'DE')], spaces: [space('b'), space('a'), space('elsewhere', { datacenter: 'de-fra1' })] });
  const edited = (spec: Partial<Datacenter['spec']>): Datacenter => ({ ...milan, spec: { ...milan.spec, ...spec } });
  const update = (after: Datacenter, before: Datacenter = milan, state = hosting) => judge(DATACENTERS, request('Datacenter', 'UPDATE', after, before), state);
  const HOSTS = 'datacenter it-mil1 hosts 2 space(s): tenant-acme/a, tenant-acme/b';

  it('refuses a country change while it hosts spaces, naming them and the field', () => {
    const verdict = update(edited({ country: 'FR' }));
    expect(verdict).toMatchObject({ allowed: false, status: { code: 403 } });
    expect(message(verdict)).toBe(`spec.country: datacenter-change: ${HOSTS}; changing its country from IT to FR would put their data, which stays where it is, under another country; create a datacenter in FR and new spaces there`);
  });

  it('refuses a selector that would match another country\'s nodes, or nodes with no country', () => {
    const toGermany = update(edited({ nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['it-mil1', 'de-fra1'] }] } }));
    expect(message(toGermany)).toBe(`spec.nodeSelector: datacenter-change: ${HOSTS}; the new selector matches 2 node(s) outside IT: fra-1 (DE), fra-2 (DE), where their data may not go`);
    const unlabelled = update(edited({ nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['it-mil1', 'it-odd'] }] } }));
    expect(message(unlabelled)).toContain('the new selector matches 1 node(s) outside IT: unlabelled (no tenantbackup.io/country label)');
  });

  it('refuses a selector that would stop matching nodes the spaces run on, or move them to another datacenter\'s nodes', () => {
    expect(message(update(edited({ nodeSelector: { matchLabels: { z: 'it-spare' } } })))).toBe(`spec.nodeSelector: datacenter-change: ${HOSTS}; the new selector no longer matches 2 of its node(s): mil-1, mil-2, where their gateways run and their volumes are reachable`);
    const wider = edited({ nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['it-mil1', 'it-rom1'] }] } });
    expect(message(update(wider))).toBe(`spec.nodeSelector: datacenter-change: ${HOSTS}; the new selector matches node(s) of other datacenters: rom-1 (it-rom1), which do not reach this datacenter's volumes`);
  });

  it('admits a selector that matches the same nodes, or adds nodes of its country no other datacenter has', () => {
    expect(update(edited({ nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['it-mil1'] }] } }))).toEqual({ allowed: true });
    expect(update(edited({ nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['it-mil1', 'it-spare'] }] } }))).toEqual({ allowed: true });
  });

  it('admits dropping foreign nodes a wrong selector matched', () => {
    const wrong = edited({ nodeSelector: { matchExpressions: [{ key: 'z', operator: 'In', values: ['it-mil1', 'de-fra1'] }] } });
    expect(update(milan, wrong)).toEqual({ allowed: true });
  });

  it('refuses storage changes the spaces\' volumes cannot follow', () => {
    expect(message(update(edited({ storage: { storageClassName: 'other' } })))).toBe(`spec.storage.storageClassName: datacenter-change: ${HOSTS}; their volumes were made with storageClassName sc and cannot change to other; keep sc, or create a datacenter with the new storage`);
    expect(message(update(edited({ storage: { storageClassName: 'sc', volumeEncryption: 'Longhorn' } })))).toContain('spec.storage.volumeEncryption: datacenter-change:');
    // Spelling out a default changes nothing.
    expect(update(edited({ storage: { storageClassName: 'sc', accessMode: 'ReadWriteMany', volumeEncryption: 'None' } }))).toEqual({ allowed: true });
  });

  it('refuses a pool that drops an address a space holds or asked for, or changes their load-balancer class', () => {
    const pooled = edited({ addressPool: { addresses: ['203.0.113.0/29'], loadBalancerClass: 'metallb' } });
    const held = { ...space('a'), status: { address: '203.0.113.1' } } as BackupSpace;
    const asked = space('b', { fixedAddress: { ip: '203.0.113.5' } });
    const state = lookups({ datacenters: [pooled, rome], spaces: [held, asked] });
    const narrower = { ...pooled, spec: { ...pooled.spec, addressPool: { addresses: ['203.0.113.0/30'], loadBalancerClass: 'metallb' } } };
    expect(message(update(narrower, pooled, state))).toBe(`spec.addressPool.addresses: datacenter-change: ${HOSTS}; the new pool no longer holds 1 address(es) its spaces hold or asked for: 203.0.113.5 (tenant-acme/b); keep them in the pool`);
    expect(message(update(milan, pooled, state))).toContain('spec.addressPool: datacenter-change:');
    expect(message(update(milan, pooled, state))).toContain('203.0.113.1 (tenant-acme/a), 203.0.113.5 (tenant-acme/b)');
    const otherClass = { ...pooled, spec: { ...pooled.spec, addressPool: { addresses: ['203.0.113.0/29'] } } };
    expect(message(update(otherClass, pooled, state))).toContain('spec.addressPool.loadBalancerClass: datacenter-change:');
    // Growing the pool is fine.
    const wider = { ...pooled, spec: { ...pooled.spec, addressPool: { addresses: ['203.0.113.0/29', '203.0.113.64/29'], loadBalancerClass: 'metallb' } } };
    expect(update(wider, pooled, state)).toEqual({ allowed: true });
  });

  it('lets anything change on a datacenter that hosts nothing, and any datacenter\'s display name or metadata', () => {
    expect(update({ ...rome, spec: { ...rome.spec, country: 'FR', nodeSelector: { matchLabels: { z: 'de-fra1' } } } }, rome)).toEqual({ allowed: true });
    expect(update(edited({ displayName: 'Milano 1' }))).toEqual({ allowed: true });
    expect(update({ ...edited({ country: 'FR' }), metadata: { name: 'it-mil1', deletionTimestamp: new Date('2026-12-02T10:00:00Z') } })).toEqual({ allowed: true });
  });

  it('compares with the cached datacenter when the API server sends no oldObject', () => {
    expect(message(judge(DATACENTERS, request('Datacenter', 'UPDATE', edited({ country: 'FR' })), hosting))).toContain('spec.country: datacenter-change:');
  });

  it('needs the caches, nodes among them, before it judges an edit', () => {
    expect(judge(DATACENTERS, request('Datacenter', 'UPDATE', edited({ country: 'FR' }), milan), lookups({ synced: false }))).toMatchObject({ allowed: false, status: { code: 503 } });
  });
});

describe('deletions of what holds data', () => {
  const full = { ...space('full'), metadata: { name: 'full', namespace: 'tenant-acme', uid: 'space-full' }, status: { usedBytes: 3 * 1024 ** 3, endpoints: 2 } };
  const device = { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Endpoint', metadata: { name: 'laptop', namespace: 'tenant-acme' }, spec: { spaceRef: { name: 'full' }, kind: 'Desktop', selection: { include: ['/home'] } }, status: { bytesStored: 1024, lastBackupTime: '2026-12-01T10:00:00Z' } };

  it('refuses deleting a space that holds data, naming the waiver annotation', () => {
    const verdict = judge(SPACES, request('BackupSpace', 'DELETE', undefined, full));
    expect(verdict).toMatchObject({ allowed: false, status: { code: 403 } });
    expect(message(verdict)).toContain('metadata.annotations[tenantbackup.io/destroy-data-without-export]: export-before-delete: space tenant-acme/full holds data (3.0Gi stored, 2 endpoint(s))');
    expect(message(verdict)).toContain('kubectl annotate backupspace full -n tenant-acme tenantbackup.io/destroy-data-without-export=true');
  });

  it('refuses deleting an endpoint that holds backups, naming the waiver annotation', () => {
    const verdict = judge('/validate/endpoints', request('Endpoint', 'DELETE', undefined, device));
    expect(message(verdict)).toContain('endpoint tenant-acme/laptop holds backups (1.0Ki stored, last backup 2026-12-01T10:00:00Z)');
    expect(message(verdict)).toContain('tenantbackup.io/destroy-data-without-export=true');
  });

  it('lets through an empty space, a waived one, and one whose tenant\'s termination verified its export', () => {
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, space('empty')))).toEqual({ allowed: true });
    const waived = { ...full, metadata: { ...full.metadata, annotations: { 'tenantbackup.io/destroy-data-without-export': 'true' } } };
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, waived))).toEqual({ allowed: true });
    const notTrue = { ...full, metadata: { ...full.metadata, annotations: { 'tenantbackup.io/destroy-data-without-export': 'yes' } } };
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, notTrue)).allowed).toBe(false);
    const terminating = (phase: 'Exporting' | 'Deleting', verifiedAt?: string) => lookups({ tenants: [{ ...tenant('acme'), status: { termination: { phase, exportVerified: Boolean(verifiedAt), spaces: [{ name: 'full', uid: 'space-full', ...(verifiedAt ? { verifiedAt } : {}) }] } } }] });
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, full), terminating('Deleting', '2026-12-02T08:00:00Z'))).toEqual({ allowed: true });
    expect(judge('/validate/endpoints', request('Endpoint', 'DELETE', undefined, device), terminating('Deleting', '2026-12-02T08:00:00Z'))).toEqual({ allowed: true });
    // Not before the verification, and not a space the verification did not cover.
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, full), terminating('Exporting')).allowed).toBe(false);
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, full), terminating('Deleting')).allowed).toBe(false);
  });

  it('lets through deletions of anything once the contract waived the export and termination is past it', () => {
    const waivedTenant = lookups({ tenants: [{ ...tenant('acme'), status: { termination: { phase: 'Shredding', exportWaived: true } } }] });
    expect(judge(SPACES, request('BackupSpace', 'DELETE', undefined, full), waivedTenant)).toEqual({ allowed: true });
  });

  it('answers 503 for an endpoint deletion before the caches are synced (it needs the tenant), not for its creation', () => {
    expect(judge('/validate/endpoints', request('Endpoint', 'DELETE', undefined, device), lookups({ synced: false }))).toMatchObject({ allowed: false, status: { code: 503 } });
  });
});
