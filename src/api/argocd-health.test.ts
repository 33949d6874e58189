import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { failedStatus, RECONCILE_ERROR, type StatusWithConditions } from '../runtime/failure-status.ts';
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

describe('the ReconcileError test cases of the health checks', () => {
  const health = join(root, 'charts/tenant-backup-operator/health/tenantbackup.io');
  const read = (kind: string, file: string) => parse(readFileSync(join(health, kind, 'testdata', file), 'utf8')) as { metadata: { generation?: number }; status: StatusWithConditions };

  // The cases Argo CD's script is tested on must be what a failed reconcile really leaves in status.
  it.each(['BackupSpace', 'Datacenter', 'Endpoint', 'Tenant'])('%s: reconcile-error.yaml is ready.yaml after one failed reconcile', (kind) => {
    const ready = read(kind, 'ready.yaml');
    const failed = read(kind, 'reconcile-error.yaml');
    const condition = failed.status.conditions?.find((c) => c.type === 'Ready');
    expect(condition?.reason).toBe(RECONCILE_ERROR);
    const prefix = 'reconcile failed; retrying: ';
    expect(condition?.message.startsWith(prefix)).toBe(true);
    const error = new Error(condition?.message.slice(prefix.length));
    expect(failed).toEqual({ ...ready, status: failedStatus(ready.status, error, ready.metadata.generation, new Date(condition?.lastTransitionTime ?? '')) });
  });
});
