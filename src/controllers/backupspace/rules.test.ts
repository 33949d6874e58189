import { describe, expect, it } from 'vitest';
import { datacenter, space, tenant } from '../../../test/support/objects.ts';
import { spaceObjectNames } from '../labels.ts';
import { judgeRules } from './rules.ts';
import type { SpaceFacts } from './step.ts';

const milan = datacenter('it-mil1', 'IT');
const acme = tenant('acme');

function facts(overrides: Partial<SpaceFacts> = {}): SpaceFacts {
  const main = space('main', 'tenant-acme');
  return { space: main, key: 'tenant-acme/main', namespace: 'tenant-acme', names: spaceObjectNames('main'), tenant: acme, datacenter: milan, endpoints: [], siblings: [], heldStorage: undefined, ...overrides };
}

describe('the rules step', () => {
  it('passes a space that keeps every rule on, with its tenant and datacenter', () => {
    const result = judgeRules(facts());
    expect(result).toMatchObject({ ok: true, value: { tenantName: 'acme', datacenter: milan, tenant: acme } });
  });

  it('stops with a Warning at a datacenter of a country the tenant does not allow', () => {
    const result = judgeRules(facts({ datacenter: datacenter('fr-par1', 'FR'), space: space('main', 'tenant-acme', { datacenter: 'fr-par1' }) }));
    expect(result).toMatchObject({ ok: false, halt: { kind: 'blocked', warn: true, blocked: { state: 'stalled', reason: 'Residency' } } });
  });

  it('stops when the tenant\'s spaces would not fit its storage quota', () => {
    const result = judgeRules(facts({ space: space('main', 'tenant-acme', { size: '60Gi' }), siblings: [space('other', 'tenant-acme', { size: '50Gi' })] }));
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.halt).toMatchObject({ kind: 'blocked', blocked: { reason: 'Quota' } });
  });

  it('keeps a space whose volume already holds its size running when the quota was lowered below it', () => {
    const lowered = tenant('acme', { quotas: { storage: '40Gi' } });
    const over = { space: space('main', 'tenant-acme', { size: '30Gi' }), siblings: [space('other', 'tenant-acme', { size: '20Gi' })], tenant: lowered };
    expect(judgeRules(facts({ ...over, heldStorage: '30Gi' })).ok).toBe(true);
    // No claim yet, or one smaller than the size asked: the quota counts it as new storage.
    expect(judgeRules(facts({ ...over, heldStorage: undefined })).ok).toBe(false);
    expect(judgeRules(facts({ ...over, heldStorage: '20Gi' })).ok).toBe(false);
  });

  it('stops without a namespace\'s tenant, naming the namespace', () => {
    const result = judgeRules(facts({ tenant: undefined }));
    expect(result.ok ? undefined : result.halt).toMatchObject({ kind: 'blocked', blocked: { state: 'stalled' } });
    expect(result.ok ? '' : result.halt.kind === 'blocked' ? result.halt.blocked.message : '').toContain('tenant-acme');
  });

  it('builds nothing, quietly, once the tenant\'s termination is shredding keys', () => {
    const shredding = { ...acme, status: { termination: { phase: 'Shredding' as const } } };
    expect(judgeRules(facts({ tenant: shredding }))).toEqual({ ok: false, halt: { kind: 'wait' } });
  });
});
