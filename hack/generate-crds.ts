/**
 * Writes crds/*.yaml from src/api (the one source of truth), and the chart's templates of the same
 * CRDs (charts/tenant-backup-operator/templates/crds: templates, so that `helm upgrade` upgrades
 * them). `npm run generate` runs it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { chartCrdTemplates, crdFiles } from '../src/api/crd-files.ts';

const root = join(import.meta.dirname, '..');
for (const [path, content] of [...crdFiles(), ...chartCrdTemplates()]) {
  await mkdir(join(root, dirname(path)), { recursive: true });
  await writeFile(join(root, path), content);
  console.log(`wrote ${path}`);
}
