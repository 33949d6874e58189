import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ARGOCD_VALUES_FILE, argocdHealthValues, healthScripts } from './argocd-health.ts';

const root = join(import.meta.dirname, '../..');

describe('Argo CD health checks shipped as argo-cd chart values', () => {
  const scripts = healthScripts(root);

  it('has a health check for each of the four kinds', () => {
    expect(scripts.map((s) => s.key)).toEqual([
      'resource.customizations.health.tenantbackup.io_BackupSpace',
      'resource.customizations.health.tenantbackup.io_Datacenter',
      'resource.customizations.health.tenantbackup.io_Endpoint',
      'resource.customizations.health.tenantbackup.io_Tenant',
    ]);
  });

  it('the values file is the one npm run generate writes', () => {
    expect(readFileSync(join(root, ARGOCD_VALUES_FILE), 'utf8')).toBe(argocdHealthValues(scripts));
  });

  it('each argocd-cm key, read back as YAML, holds its health.lua byte for byte', () => {
    const values = parse(readFileSync(join(root, ARGOCD_VALUES_FILE), 'utf8')) as { configs: { cm: Record<string, string> } };
    for (const { key, script } of scripts) expect(values.configs.cm[key], key).toBe(script);
    expect(Object.keys(values.configs.cm)).toHaveLength(scripts.length);
  });
});
