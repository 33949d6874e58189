/**
 * Writes crds/*.yaml from src/api (the one source of truth), and the same bytes into the Helm chart's
 * crds/ (Helm installs that directory before the templates). `npm run generate` runs it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crdFiles } from '../src/api/crd-files.ts';

const root = join(import.meta.dirname, '..');
const CHART_CRDS = 'charts/tenant-backup-operator/crds';
for (const [path, content] of crdFiles()) {
  for (const target of [path, join(CHART_CRDS, basename(path))]) {
    await mkdir(join(root, dirname(target)), { recursive: true });
    await writeFile(join(root, target), content);
    console.log(`wrote ${target}`);
  }
}
