/**
 * `npm run bench`: runs the project's benchmarks (not tests) and writes their figures to .bench/.
 * `npm run bench -- <name>...` runs only the named ones.
 */
import { runCacheLookupsBenchmark } from './cache-lookups.ts';
import { runConvergenceBenchmark } from './convergence.ts';
import { runExportBenchmark } from './export.ts';
import { runGatewayBenchmark } from './gateway.ts';
import { runScaleBenchmark } from './scale.ts';
import { runUnsealBenchmark } from './unseal.ts';

const benchmarks: Record<string, () => Promise<unknown>> = {
  gateway: runGatewayBenchmark,
  convergence: runConvergenceBenchmark,
  export: runExportBenchmark,
  unseal: runUnsealBenchmark,
  scale: runScaleBenchmark,
  'cache-lookups': runCacheLookupsBenchmark,
};

const selected = process.argv.slice(2);
for (const name of selected) {
  if (!(name in benchmarks)) throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(benchmarks).join(', ')}`);
}
for (const [name, run] of Object.entries(benchmarks)) {
  if (selected.length > 0 && !selected.includes(name)) continue;
  await run();
}
