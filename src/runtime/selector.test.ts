import { describe, expect, it } from 'vitest';
import { matchesSelector, selectorToNodeSelectorTerm } from './selector.ts';

describe('label selectors', () => {
  const labels = { zone: 'it-mil1', country: 'IT', ssd: 'true' };
  it('matches labels and expressions, all of them', () => {
    expect(matchesSelector(labels, { matchLabels: { zone: 'it-mil1' } })).toBe(true);
    expect(matchesSelector(labels, { matchLabels: { zone: 'it-mil1', country: 'DE' } })).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: 'zone', operator: 'In', values: ['it-rom1', 'it-mil1'] }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['it-mil1'] }] })).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: 'gpu', operator: 'NotIn', values: ['x'] }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: 'ssd', operator: 'DoesNotExist' }] })).toBe(false);
    expect(matchesSelector(undefined, { matchExpressions: [{ key: 'zone', operator: 'In', values: ['it-mil1'] }] })).toBe(false);
  });

  it('turns a selector into one node-affinity term with the same meaning', () => {
    expect(selectorToNodeSelectorTerm({ matchLabels: { zone: 'it-mil1' }, matchExpressions: [{ key: 'ssd', operator: 'Exists' }] })).toEqual({
      matchExpressions: [{ key: 'zone', operator: 'In', values: ['it-mil1'] }, { key: 'ssd', operator: 'Exists' }],
    });
  });
});
