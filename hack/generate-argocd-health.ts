/** Writes the argo-cd chart values that carry the chart's Argo CD health checks (see src/api/argocd-health.ts). */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ARGOCD_VALUES_FILE, argocdHealthValues, healthScripts } from '../src/api/argocd-health.ts';

const root = join(import.meta.dirname, '..');
await writeFile(join(root, ARGOCD_VALUES_FILE), argocdHealthValues(healthScripts(root)));
console.log(`wrote ${ARGOCD_VALUES_FILE}`);
