/**
 * Cache lookups at fleet size (not a test): what one event mapper or one reconcile pays to find a
 * space's endpoints in a cache of a thousand tenants' objects, by a scan of a copy of the whole store
 * (what the controllers did) and by the store's index (what they do now). Same store, same run.
 *
 * Environment:
 *   BENCH_CACHE_TENANTS  tenants in the cache (default 1000; 2 spaces and 10 endpoints each)
 * Writes .bench/cache-lookups.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import type { Endpoint } from '../src/api/types.ts';
import { spaceOfEndpoint } from '../src/controllers/cache-indexes.ts';
import { IndexedStore } from '../src/runtime/indexed-store.ts';
import { endpoint } from '../test/support/objects.ts';

function timeMs(work: () => void): number {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function runCacheLookupsBenchmark(): Promise<void> {
  const tenants = Number(process.env.BENCH_CACHE_TENANTS ?? 1000);
  const store = new IndexedStore<Endpoint>();
  store.addIndex('space', spaceOfEndpoint);
  for (let t = 0; t < tenants; t++) {
    for (let s = 0; s < 2; s++) {
      for (let e = 0; e < 5; e++) {
        const object = endpoint(`device-${s}-${e}`, `tenant-${t}`, `space-${s}`);
        store.set(`tenant-${t}/device-${s}-${e}`, object);
      }
    }
  }
  const lookups = Array.from({ length: 2000 }, (_, i) => [`tenant-${(i * 7919) % tenants}`, `space-${i % 2}`] as const);
  let found = 0;
  const scanMs = timeMs(() => {
    for (const [namespace, name] of lookups) found += [...store.values()].filter((e) => e.metadata.namespace === namespace && e.spec.spaceRef.name === name).length;
  });
  const indexMs = timeMs(() => {
    for (const [namespace, name] of lookups) found -= store.byIndex('space', `${namespace}/${name}`).length;
  });
  if (found !== 0) throw new Error(`the index and the scan disagree by ${found} endpoints`);

  const result = {
    benchmark: 'cache-lookups',
    date: new Date().toISOString(),
    environment: { node: process.version, cpus: cpus().length },
    tenants,
    cachedEndpoints: store.size,
    lookups: lookups.length,
    scanMicrosecondsPerLookup: (scanMs * 1000) / lookups.length,
    indexMicrosecondsPerLookup: (indexMs * 1000) / lookups.length,
    ratioScanToIndex: scanMs / indexMs,
  };
  const out = resolve(import.meta.dirname, '../.bench');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'cache-lookups.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log([
    `cache lookups: a space's endpoints among ${store.size} cached endpoints (${tenants} tenants), ${lookups.length} lookups`,
    `  scan of the whole store: ${result.scanMicrosecondsPerLookup.toFixed(1)} µs per lookup`,
    `  index:                   ${result.indexMicrosecondsPerLookup.toFixed(2)} µs per lookup (${result.ratioScanToIndex.toFixed(0)}× faster)`,
    '  written to .bench/cache-lookups.json',
  ].join('\n'));
}
