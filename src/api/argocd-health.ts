/**
 * The chart's Argo CD health checks (charts/tenant-backup-operator/health/<group>/<Kind>/health.lua,
 * in the layout of Argo CD's own resource_customizations) as values of the argo-cd Helm chart, so a
 * platform team installs them with `-f` instead of copying Lua into argocd-cm by hand. The scripts
 * are generated from src/api/argocd-health-lua.ts; `npm run generate` writes them and then this values
 * file from them, and unit tests keep all three equal.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const HEALTH_DIR = 'charts/tenant-backup-operator/health';
export const ARGOCD_VALUES_FILE = `${HEALTH_DIR}/argocd-values.yaml`;

export interface HealthScript {
  /** argocd-cm key: resource.customizations.health.<group>_<Kind> */
  key: string;
  path: string;
  script: string;
}

export function healthScripts(root: string): HealthScript[] {
  const scripts: HealthScript[] = [];
  for (const group of readdirSync(join(root, HEALTH_DIR), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    for (const kind of readdirSync(join(root, HEALTH_DIR, group)).sort()) {
      const path = `${HEALTH_DIR}/${group}/${kind}/health.lua`;
      scripts.push({ key: `resource.customizations.health.${group}_${kind}`, path, script: readFileSync(join(root, path), 'utf8') });
    }
  }
  return scripts;
}

/** Block scalars written by hand: the bytes must stay the script's, whatever a YAML library prefers. */
export function argocdHealthValues(scripts: readonly HealthScript[]): string {
  const header = [
    '# Values for the argo-cd Helm chart (argoproj/argo-helm): health checks of the tenantbackup.io kinds.',
    `# Generated from ${HEALTH_DIR}/<group>/<Kind>/health.lua by \`npm run generate\`; edit src/api/argocd-health-lua.ts.`,
    '#   helm upgrade argocd argo/argo-cd -n argocd --reuse-values -f argocd-values.yaml',
    'configs:',
    '  cm:',
  ];
  const entries = scripts.flatMap(({ key, script }) => [
    `    ${key}: |`,
    ...script.replace(/\n$/, '').split('\n').map((line) => (line === '' ? '' : `      ${line}`)),
  ]);
  return `${[...header, ...entries].join('\n')}\n`;
}
