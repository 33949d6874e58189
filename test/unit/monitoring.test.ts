/**
 * The chart's Grafana dashboard and alert rules query only metrics the operator registers, with labels
 * those metrics carry: a renamed metric or label would otherwise leave a blank panel or an alert that
 * never fires, and nobody would notice. Names and labels are read off the real registries.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GatewayMetrics } from '../../src/gateway/metrics.ts';
import { registerFleetMetrics } from '../../src/operator/fleet-metrics.ts';
import { createRuntimeMetrics } from '../../src/runtime/metrics.ts';
import { decisionCounter } from '../../src/webhook/server.ts';

const chart = join(import.meta.dirname, '../../charts/tenant-backup-operator');
const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;

/** Labels Prometheus itself puts on every series scraped through a ServiceMonitor. */
const TARGET_LABELS = ['job', 'instance', 'pod', 'namespace', 'service', 'container', 'endpoint'];

/** Series names the operator and the gateway export, with their label names. */
function exported(): Map<string, readonly string[]> {
  const operator = new Registry();
  createRuntimeMetrics(operator);
  registerFleetMetrics(operator, { datacenters: () => [], tenants: () => [], spaces: () => [], endpoints: () => [], secrets: () => [] });
  decisionCounter(operator);
  const series = new Map<string, readonly string[]>();
  for (const registry of [operator, new GatewayMetrics().registry]) {
    // prom-client's MetricObject type omits the instance's labelNames, which every metric has.
    for (const metric of registry.getMetricsAsArray() as unknown as { name: string; labelNames?: string[] }[]) {
      const labels = metric.labelNames ?? [];
      const names = metric instanceof Histogram ? ['_bucket', '_sum', '_count'].map((s) => `${metric.name}${s}`) : [metric.name];
      for (const name of names) series.set(name, name.endsWith('_bucket') ? [...labels, 'le'] : labels);
    }
  }
  return series;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);

/** The metric names a PromQL expression selects (identifiers that are not functions, keywords or labels). */
export function metricNames(expr: string): string[] {
  const e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, '');
  const names = new Set<string>();
  for (const match of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = e.slice((match.index ?? 0) + match[0].length).trimStart();
    if (rest.startsWith('(') || KEYWORDS.has(match[0])) continue;
    names.add(match[0]);
  }
  return [...names];
}

/** Label names an expression groups, joins or matches on. */
function labelNames(expr: string): string[] {
  const labels = new Set<string>();
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of (m[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) labels.add(l);
  }
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const l of (m[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]!);
  }
  return [...labels];
}

function get(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown> | undefined)?.[key], object);
}

/** What Helm's tpl makes of alerts/prometheus-rules.yaml: the few constructs the file uses. */
function renderRules(v: Record<string, unknown>): string {
  const text = readFileSync(join(chart, 'alerts/prometheus-rules.yaml'), 'utf8')
    .replace(/\n\{\{- if \.Values\.([\w.]+) \}\}([\s\S]*?)\n\{\{- end \}\}/g, (_, path: string, body: string) => (get(v, path) ? body : ''))
    .replace(/\{\{ \.Values\.([\w.]+) \}\}/g, (_, path: string) => String(get(v, path)))
    .replace(/\{\{`([\s\S]*?)`\}\}/g, '$1');
  expect(text, 'a Helm construct renderRules does not know').not.toMatch(/\{\{-?\s*[.a-z]/);
  return text;
}

interface Rule { alert: string; expr: string; for: string; labels: { severity: string }; annotations: Record<string, string> }
const rules = (v = values) => (parse(renderRules(v)) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface Panel { title: string; targets?: { expr: string }[]; panels?: Panel[] }
const dashboard = JSON.parse(readFileSync(join(chart, 'dashboards/tenant-backup-operator.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string; type: string }[] } };
const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);

describe('dashboard and alert rules', () => {
  const series = exported();
  const queries: [string, string][] = [
    ...rules().map((r): [string, string] => [`alert ${r.alert}`, r.expr]),
    ...panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t): [string, string] => [`panel ${p.title}`, t.expr])),
  ];

  it('query only metrics the operator or the gateway exports', () => {
    expect(queries.length).toBeGreaterThan(25);
    const unknown = queries.flatMap(([where, expr]) => metricNames(expr).filter((name) => !series.has(name)).map((name) => `${where}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it('group and match on labels those metrics carry', () => {
    const wrong = queries.flatMap(([where, expr]) => {
      const available = new Set([...TARGET_LABELS, ...metricNames(expr).flatMap((name) => series.get(name) ?? [])]);
      return labelNames(expr).filter((label) => !available.has(label)).map((label) => `${where}: ${label}`);
    });
    expect(wrong).toEqual([]);
  });

  it('annotate alerts only with labels their expression keeps', () => {
    const wrong = rules().flatMap((r) => {
      const kept = new Set(labelNames(r.expr));
      const used = Object.values(r.annotations).flatMap((a) => [...a.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]!));
      return used.filter((label) => !kept.has(label)).map((label) => `${r.alert}: $labels.${label}`);
    });
    expect(wrong).toEqual([]);
  });

  it('alert on what a platform team expects', () => {
    expect(rules().map((r) => r.alert).sort()).toEqual([
      'TenantBackupBackupOverdue', 'TenantBackupCertificateExpiring', 'TenantBackupGatewayDown', 'TenantBackupObjectStalled',
      'TenantBackupOperatorNoLeader', 'TenantBackupQueueBacklog', 'TenantBackupReconcileErrors', 'TenantBackupReconcileSlow',
      'TenantBackupSpaceNearlyFull', 'TenantBackupSpaceSealed', 'TenantBackupTenantQuotaNearlyUsed',
    ]);
    for (const r of rules()) expect(['info', 'warning', 'critical'], r.alert).toContain(r.labels.severity);
  });

  it('take their thresholds from values, and drop the leader alert without leader election', () => {
    const custom = { ...values, prometheusRule: { ...(values.prometheusRule as object), thresholds: { ...(get(values, 'prometheusRule.thresholds') as object), backupOverdueHours: 50 } } };
    expect(rules(custom).find((r) => r.alert === 'TenantBackupBackupOverdue')?.expr).toContain('> 50 * 3600');
    const single = { ...values, leaderElection: { ...(values.leaderElection as object), enabled: false } };
    expect(rules(single).map((r) => r.alert)).not.toContain('TenantBackupOperatorNoLeader');
    expect(rules().find((r) => r.alert === 'TenantBackupOperatorNoLeader')?.expr).toContain(`name="${String(get(values, 'leaderElection.id'))}"`);
  });

  it('alert on an overdue backup as the operator judges it, and by the hours threshold where no interval is set', () => {
    const overdue = rules().find((r) => r.alert === 'TenantBackupBackupOverdue');
    expect(metricNames(overdue?.expr ?? '').sort()).toEqual(['tenantbackup_endpoint_backup_overdue', 'tenantbackup_endpoint_last_backup_timestamp_seconds']);
    expect(overdue?.expr).toContain('max by (tenant, endpoint, space) (tenantbackup_endpoint_backup_overdue) == 1');
    expect(overdue?.expr).toContain('unless on (tenant, endpoint, space) tenantbackup_endpoint_backup_overdue');
  });

  it('the dashboard picks its Prometheus data source and every panel queries something', () => {
    expect(dashboard.uid).toBe('tenant-backup-operator');
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource' }));
    for (const p of panels(dashboard.panels).filter((p) => p.targets !== undefined)) expect(p.targets!.length, p.title).toBeGreaterThan(0);
  });
});

describe('metricNames', () => {
  it('finds metrics, not functions, labels, ranges or keywords', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (controller, le) (rate(a_bucket{x="b c"}[5m]))) > 5 * 3600 or vector(0)')).toEqual(['a_bucket']);
    expect(metricNames('time() - max by (tenant) (b) / on(tenant) group_left c')).toEqual(['b', 'c']);
  });
});
