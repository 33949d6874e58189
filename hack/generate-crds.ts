/** Writes crds/*.yaml from src/api (the one source of truth). `npm run generate` runs it. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crdFiles } from '../src/api/crd-files.ts';

const root = join(import.meta.dirname, '..');
for (const [path, content] of crdFiles()) {
  await writeFile(join(root, path), content);
  console.log(`wrote ${path}`);
}
