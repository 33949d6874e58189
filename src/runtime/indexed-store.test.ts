import { describe, expect, it } from 'vitest';
import { IndexedStore, NAMESPACE_INDEX } from './indexed-store.ts';

interface Thing {
  metadata: { name: string; namespace?: string };
  spec: { space?: string; tags?: string[] };
}

const thing = (namespace: string | undefined, name: string, spec: Thing['spec'] = {}): Thing => ({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
const names = (things: Thing[]) => things.map((t) => t.metadata.name).sort();
const bySpace = (t: Thing) => (t.spec.space ? [`${t.metadata.namespace}/${t.spec.space}`] : []);

describe('an informer store with indexes', () => {
  it('finds objects by namespace, cluster-scoped ones under the empty namespace', () => {
    const store = new IndexedStore<Thing>();
    store.set('a/one', thing('a', 'one'));
    store.set('a/two', thing('a', 'two'));
    store.set('b/one', thing('b', 'one'));
    store.set('node-1', thing(undefined, 'node-1'));
    expect(names(store.byIndex(NAMESPACE_INDEX, 'a'))).toEqual(['one', 'two']);
    expect(names(store.byIndex(NAMESPACE_INDEX, ''))).toEqual(['node-1']);
    expect(store.byIndex(NAMESPACE_INDEX, 'none')).toEqual([]);
  });

  it('moves an object between index values when it changes, and forgets it when deleted', () => {
    const store = new IndexedStore<Thing>();
    store.addIndex('space', bySpace);
    store.set('a/laptop', thing('a', 'laptop', { space: 'main' }));
    store.set('a/server', thing('a', 'server', { space: 'main' }));
    expect(names(store.byIndex('space', 'a/main'))).toEqual(['laptop', 'server']);

    store.set('a/laptop', thing('a', 'laptop', { space: 'archive' }));
    expect(names(store.byIndex('space', 'a/main'))).toEqual(['server']);
    expect(names(store.byIndex('space', 'a/archive'))).toEqual(['laptop']);

    store.delete('a/server');
    store.delete('a/absent');
    expect(store.byIndex('space', 'a/main')).toEqual([]);
    expect(store.byIndex(NAMESPACE_INDEX, 'a').map((t) => t.spec.space)).toEqual(['archive']);
    expect(store.size).toBe(1);
  });

  it('builds an index added late from what it holds, and files an object under several values', () => {
    const store = new IndexedStore<Thing>();
    store.set('a/x', thing('a', 'x', { tags: ['red', 'blue'] }));
    store.set('a/y', thing('a', 'y', { tags: ['blue'] }));
    const byTag = (t: Thing) => t.spec.tags ?? [];
    store.addIndex('tag', byTag);
    store.addIndex('tag', byTag);
    expect(names(store.byIndex('tag', 'blue'))).toEqual(['x', 'y']);
    expect(names(store.byIndex('tag', 'red'))).toEqual(['x']);
    expect(() => store.addIndex('tag', (t) => [t.metadata.name])).toThrow('already registered');
  });

  it('files an object its index function cannot read under nothing, and names an unknown index', () => {
    const store = new IndexedStore<Thing>();
    store.addIndex('first-tag', (t) => [t.spec.tags![0]!.toUpperCase()]);
    store.set('a/untagged', thing('a', 'untagged'));
    store.set('a/tagged', thing('a', 'tagged', { tags: ['red'] }));
    expect(names(store.byIndex('first-tag', 'RED'))).toEqual(['tagged']);
    expect(store.get('a/untagged')?.metadata.name).toBe('untagged');
    expect(() => store.byIndex('colour', 'red')).toThrow('no index "colour" (known: namespace, first-tag)');
  });
});
