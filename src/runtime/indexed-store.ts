/**
 * An informer's store: objects by key, and secondary indexes (by namespace, by space, by datacenter…)
 * kept up to date on every change, so an event mapper or a reconcile reads the few objects it needs
 * instead of copying and scanning the whole fleet (client-go's Indexer).
 */

/** The index values of an object: the keys it is found under (none, one or several). */
export type IndexFunction<T> = (object: T) => readonly string[];

/** The index every store has: objects by metadata.namespace ('' for cluster-scoped ones). */
export const NAMESPACE_INDEX = 'namespace';

interface Namespaced {
  metadata: { namespace?: string };
}

export class IndexedStore<T extends Namespaced> {
  private readonly objects = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunction<T>>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor() {
    this.addIndex(NAMESPACE_INDEX, (object) => [object.metadata.namespace ?? '']);
  }

  get size(): number {
    return this.objects.size;
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  keys(): IterableIterator<string> {
    return this.objects.keys();
  }

  values(): IterableIterator<T> {
    return this.objects.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.objects.entries();
  }

  set(key: string, object: T): void {
    const old = this.objects.get(key);
    if (old) this.unindex(key, old);
    this.objects.set(key, object);
    for (const [name, indexer] of this.indexers) this.indexInto(this.indexOf(name), indexer, key, object);
  }

  delete(key: string): void {
    const old = this.objects.get(key);
    if (!old) return;
    this.unindex(key, old);
    this.objects.delete(key);
  }

  /**
   * Adds an index, built at once from what the store holds. Registering a name again is a no-op, so
   * every controller can ask for the index it reads without knowing who asked first; a different
   * function under a taken name is a programming error and throws.
   */
  addIndex(name: string, indexer: IndexFunction<T>): void {
    const existing = this.indexers.get(name);
    if (existing === indexer) return;
    if (existing) throw new Error(`index "${name}" is already registered with another function`);
    this.indexers.set(name, indexer);
    const index = new Map<string, Set<string>>();
    this.indices.set(name, index);
    for (const [key, object] of this.objects) this.indexInto(index, indexer, key, object);
  }

  /** The objects found under `value` in the index `name`, in no particular order. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexOf(name).get(value);
    if (!keys) return [];
    const found: T[] = [];
    for (const key of keys) {
      const object = this.objects.get(key);
      if (object) found.push(object);
    }
    return found;
  }

  private indexOf(name: string): Map<string, Set<string>> {
    const index = this.indices.get(name);
    if (!index) throw new Error(`no index "${name}" (known: ${[...this.indices.keys()].join(', ')})`);
    return index;
  }

  private indexInto(index: Map<string, Set<string>>, indexer: IndexFunction<T>, key: string, object: T): void {
    for (const value of valuesOf(indexer, object)) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, object: T): void {
    for (const [name, indexer] of this.indexers) {
      const index = this.indexOf(name);
      for (const value of valuesOf(indexer, object)) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }
}

/**
 * An object an index function cannot read (a stored object missing a field its schema requires
 * now, written before the field existed) is found under no value of that index, not a crash of the
 * watch that delivered it.
 */
function valuesOf<T>(indexer: IndexFunction<T>, object: T): readonly string[] {
  try {
    return indexer(object);
  } catch {
    return [];
  }
}
