import { describe, expect, it } from 'vitest';
import { endpoint, space } from '../../test/support/objects.ts';
import { IndexedStore } from '../runtime/indexed-store.ts';
import type { KubeObject } from '../runtime/object.ts';
import { datacenterOfSpace, spaceOfEndpoint, spaceOfPod } from './cache-indexes.ts';
import { SPACE_LABEL } from './labels.ts';

describe('the controllers\' cache indexes', () => {
  it('file an endpoint under the space its spaceRef names, in its own namespace unless the ref says another', () => {
    expect(spaceOfEndpoint(endpoint('laptop', 'tenant-acme', 'main'))).toEqual(['tenant-acme/main']);
    expect(spaceOfEndpoint(endpoint('laptop', 'tenant-acme', 'main', { spaceRef: { name: 'main', namespace: 'tenant-other' } }))).toEqual(['tenant-other/main']);
  });

  it('file a space under its datacenter, and a gateway pod under its space label', () => {
    expect(datacenterOfSpace(space('main', 'tenant-acme', { datacenter: 'it-rom1' }))).toEqual(['it-rom1']);
    const pod = (labels: Record<string, string>): KubeObject => ({ metadata: { name: 'p', namespace: 'tenant-acme', labels } });
    expect(spaceOfPod(pod({ [SPACE_LABEL]: 'main' }))).toEqual(['tenant-acme/main']);
    expect(spaceOfPod(pod({}))).toEqual([]);
  });

  it('find the same endpoints a scan of the whole cache found, after moves between spaces', () => {
    const store = new IndexedStore<ReturnType<typeof endpoint>>();
    store.addIndex('space', spaceOfEndpoint);
    const all = [
      endpoint('a', 'tenant-acme', 'main'), endpoint('b', 'tenant-acme', 'archive'), endpoint('c', 'tenant-beta', 'main'),
      endpoint('d', 'tenant-acme', 'main', { spaceRef: { name: 'main', namespace: 'tenant-beta' } }),
    ];
    for (const e of all) store.set(`${e.metadata.namespace}/${e.metadata.name}`, e);
    store.set('tenant-acme/b', endpoint('b', 'tenant-acme', 'main'));
    const scan = (namespace: string, name: string) => [...store.values()].filter((e) => (e.spec.spaceRef.namespace ?? e.metadata.namespace) === namespace && e.spec.spaceRef.name === name).map((e) => e.metadata.name).sort();
    for (const [namespace, name] of [['tenant-acme', 'main'], ['tenant-acme', 'archive'], ['tenant-beta', 'main']] as const) {
      expect(store.byIndex('space', `${namespace}/${name}`).map((e) => e.metadata.name).sort()).toEqual(scan(namespace, name));
    }
    expect(store.byIndex('space', 'tenant-acme/main').map((e) => e.metadata.name).sort()).toEqual(['a', 'b']);
  });
});
