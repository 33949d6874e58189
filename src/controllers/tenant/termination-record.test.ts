import { describe, expect, it } from 'vitest';
import { tenant } from '../../../test/support/objects.ts';
import { newRecord } from './termination.ts';
import { parseRecord, recordConfigMap, recordName, RECORD_KEY } from './termination-record.ts';

const NOW = new Date('2026-12-02T08:00:00Z');
const acme = tenant('acme', { contract: { state: 'Terminated', exportTarget: { persistentVolumeClaim: { namespace: 'provider', claimName: 'exports' } } } }, '0123456789abcdef');
const record = newRecord(acme, 'ContractTerminated', [{ name: 'main', namespace: 'tenant-acme', uid: 's1', datacenter: 'it-mil1', keyId: 'k1' }], NOW);

describe('the termination record', () => {
  it('is named by the tenant and its uid, so a later tenant of the same name starts its own', () => {
    expect(recordName(acme)).toBe('termination-acme-01234567');
    expect(recordName(tenant('acme', {}, 'fedcba9876543210'))).not.toBe(recordName(acme));
  });

  it('round-trips through its ConfigMap, which is labelled, not owned by the tenant, and carries the resourceVersion precondition', () => {
    const configMap = recordConfigMap('termination-acme-01234567', 'tb-system', record, '42');
    expect(configMap.metadata?.ownerReferences).toBeUndefined();
    expect(configMap.metadata?.resourceVersion).toBe('42');
    expect(configMap.metadata?.labels).toMatchObject({ 'tenantbackup.io/tenant': 'acme', 'tenantbackup.io/record': 'termination' });
    expect(parseRecord(configMap)).toEqual(record);
  });

  it('refuses a ConfigMap edited into something else, naming what is wrong', () => {
    const base = recordConfigMap('r', 'ns', record);
    expect(() => parseRecord({ ...base, data: {} })).toThrow(`termination record ConfigMap ns/r has no ${RECORD_KEY}`);
    expect(() => parseRecord({ ...base, data: { [RECORD_KEY]: '{' } })).toThrow('is not JSON');
    expect(() => parseRecord({ ...base, data: { [RECORD_KEY]: JSON.stringify({ ...record, phase: 'Exploding' }) } })).toThrow('phase must be one of Suspending, Exporting, Verifying, Shredding, Deleting, Done');
    expect(() => parseRecord({ ...base, data: { [RECORD_KEY]: JSON.stringify({ ...record, spaces: [{ name: 'x' }] }) } })).toThrow('spaces must be a list');
  });
});
