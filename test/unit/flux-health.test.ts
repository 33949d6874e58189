/**
 * The Flux healthCheckExprs the chart documents, evaluated as Flux does (the object's top-level fields
 * as CEL variables; inProgress, then failed, then current; none true: still in progress) on every
 * Argo CD testdata object, so both GitOps tools are held to the same cases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HEALTH_DIR } from '../../src/api/argocd-health.ts';

const root = join(import.meta.dirname, '../..');
const KINDS = ['Datacenter', 'Tenant', 'BackupSpace', 'Endpoint'];

interface HealthCheckExpr { apiVersion: string; kind: string; inProgress: string; failed: string; current: string }
const { healthCheckExprs } = parse(readFileSync(join(root, HEALTH_DIR, 'flux-health-check-exprs.yaml'), 'utf8')) as { healthCheckExprs: HealthCheckExpr[] };

type FluxHealth = 'InProgress' | 'Failed' | 'Current';

function fluxHealth(check: HealthCheckExpr, object: Record<string, unknown>): FluxHealth {
  if (evaluate(check.inProgress, object) === true) return 'InProgress';
  if (evaluate(check.failed, object) === true) return 'Failed';
  if (evaluate(check.current, object) === true) return 'Current';
  return 'InProgress';
}

/** What Flux must say where Argo CD says this: a sealed space or a suspended contract is reconciled. */
const FROM_ARGO: Record<string, FluxHealth> = { Healthy: 'Current', Suspended: 'Current', Degraded: 'Failed', Progressing: 'InProgress' };

describe('Flux healthCheckExprs for the tenantbackup.io kinds', () => {
  it('cover the four kinds with one set of expressions', () => {
    expect(healthCheckExprs.map((c) => `${c.apiVersion}/${c.kind}`)).toEqual(KINDS.map((k) => `tenantbackup.io/v1alpha1/${k}`));
    for (const c of healthCheckExprs) expect([c.inProgress, c.failed, c.current]).toEqual([healthCheckExprs[0]!.inProgress, healthCheckExprs[0]!.failed, healthCheckExprs[0]!.current]);
  });

  for (const kind of KINDS) {
    const dir = join(root, HEALTH_DIR, 'tenantbackup.io', kind);
    const { tests } = parse(readFileSync(join(dir, 'health_test.yaml'), 'utf8')) as { tests: { inputPath: string; healthStatus: { status: string } }[] };
    const check = healthCheckExprs.find((c) => c.kind === kind)!;
    for (const { inputPath, healthStatus } of tests) {
      const object = parse(readFileSync(join(dir, inputPath), 'utf8')) as { metadata: { deletionTimestamp?: string }; status?: unknown };
      // Objects being deleted: kstatus calls them Terminating before any expression runs.
      if (object.metadata.deletionTimestamp) continue;
      it(`${kind} ${inputPath}`, () => {
        if (object.status === undefined) {
          // No status to read: the expressions cannot evaluate, so Flux waits instead of passing it.
          expect(() => fluxHealth(check, object)).toThrow(/status/);
          return;
        }
        expect(fluxHealth(check, object)).toBe(FROM_ARGO[healthStatus.status]);
      });
    }
  }

  it('a Ready=False without Reconciling or Stalled is not healthy (kstatus alone would call it Current)', () => {
    const object = { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False' }] } };
    expect(fluxHealth(healthCheckExprs[0]!, object)).toBe('InProgress');
  });

  it('the chart README shows the same expressions', () => {
    const readme = readFileSync(join(root, 'charts/tenant-backup-operator/README.md'), 'utf8');
    for (const expr of [healthCheckExprs[0]!.inProgress, healthCheckExprs[0]!.failed, healthCheckExprs[0]!.current]) expect(readme).toContain(expr);
  });
});
