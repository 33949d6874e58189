/**
 * Writes the chart's Argo CD health scripts from their one source (src/api/argocd-health-lua.ts), then
 * the argo-cd chart values that carry them (see src/api/argocd-health.ts). `npm run generate` runs it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { healthLuaFiles } from '../src/api/argocd-health-lua.ts';
import { ARGOCD_VALUES_FILE, argocdHealthValues, healthScripts } from '../src/api/argocd-health.ts';

const root = join(import.meta.dirname, '..');
for (const [path, content] of healthLuaFiles()) {
  await writeFile(join(root, path), content);
  console.log(`wrote ${path}`);
}
// Read back from disk, so the values hold exactly the scripts just written.
await writeFile(join(root, ARGOCD_VALUES_FILE), argocdHealthValues(healthScripts(root)));
console.log(`wrote ${ARGOCD_VALUES_FILE}`);
