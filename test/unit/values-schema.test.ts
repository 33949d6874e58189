/**
 * values.schema.json, which Helm checks on install, upgrade, lint and template: the chart's defaults
 * pass, every value of the blocks it covers is described, and typical mistakes are refused naming the
 * value (Ajv here, draft-07 as Helm reads it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const chart = join(import.meta.dirname, '../../charts/tenant-backup-operator');
const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
interface Schema { properties?: Record<string, Schema>; additionalProperties?: boolean | Schema }
const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as Schema;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

/** Every key path under a value, down to the leaves. */
function paths(value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => paths(v, `${prefix}.${k}`));
}

function described(path: string): boolean {
  let node: Schema | undefined = schema;
  for (const key of path.split('.')) {
    const next: Schema | undefined = node?.properties?.[key] ?? (typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined);
    if (!next) return false;
    node = next;
  }
  return true;
}

const errorsFor = (patch: Record<string, unknown>) => {
  const merged = structuredClone(values);
  for (const [path, v] of Object.entries(patch)) {
    const keys = path.split('.');
    const last = keys.pop()!;
    (keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, merged))[last] = v;
  }
  validate(merged);
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

describe('values.schema.json', () => {
  it('accepts the chart\'s defaults', () => {
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true);
  });

  it('describes every value of the crds, gateway, dashboard and prometheusRule blocks', () => {
    const missing = ['crds', 'gateway', 'dashboard', 'prometheusRule'].flatMap((block) => paths(values[block], block)).filter((p) => !described(p));
    expect(missing).toEqual([]);
    expect(paths(values.prometheusRule, 'prometheusRule')).toContain('prometheusRule.thresholds.backupOverdueHours');
  });

  it('refuses wrong values, naming them', () => {
    expect(errorsFor({ 'dashboard.enabled': 'yes' })).toEqual(['/dashboard/enabled must be boolean']);
    expect(errorsFor({ 'dashboard.labels': { grafana_dashboard: 1 } })).toEqual(['/dashboard/labels/grafana_dashboard must be string']);
    expect(errorsFor({ 'prometheusRule.thresholds.spaceUsedRatio': 90 })).toEqual(['/prometheusRule/thresholds/spaceUsedRatio must be <= 1']);
    expect(errorsFor({ 'prometheusRule.thresholds.backupOverdueHours': 0 })).toEqual(['/prometheusRule/thresholds/backupOverdueHours must be > 0']);
    expect(errorsFor({ 'prometheusRule.namespace': 'Monitoring' })[0]).toMatch(/^\/prometheusRule\/namespace must match pattern/);
    expect(errorsFor({ 'prometheusRule.thresholds.backupOverdue': 26 })).toEqual(['/prometheusRule/thresholds must NOT have additional properties']);
    expect(errorsFor({ 'crds.keep': 'no' })).toEqual(['/crds/keep must be boolean']);
  });

  it('takes gateway pod settings and refuses the operator\'s own labels and unknown resources', () => {
    expect(errorsFor({ 'gateway.resources': { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: 2, memory: '640Mi' } }, 'gateway.podLabels': { team: 'storage' }, 'gateway.tolerations': [{ key: 'dedicated', operator: 'Exists' }] })).toEqual([]);
    expect(errorsFor({ 'gateway.podLabels': { 'app.kubernetes.io/instance': 'x' } })).toContain('/gateway/podLabels property name must be valid');
    expect(errorsFor({ 'gateway.podLabels': { 'tenantbackup.io/space': 'x' } })).toContain('/gateway/podLabels property name must be valid');
    expect(errorsFor({ 'gateway.podAnnotations': { 'tenantbackup.io/gateway-workload': 'x' } })).toContain('/gateway/podAnnotations property name must be valid');
    expect(errorsFor({ 'gateway.resources': { limits: { gpu: '1' } } })).toContain('/gateway/resources/limits property name must be valid');
    expect(errorsFor({ 'gateway.priorityClassName': 'system-node-critical' })).toEqual(['/gateway/priorityClassName must NOT be valid']);
    expect(errorsFor({ 'gateway.nodeSelector': {} })).toEqual(['/gateway must NOT have additional properties']);
  });
});
