import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditBundle, bundleArchive, bundleName } from './bundle.ts';
import type { PolicyReport } from './policy-report.ts';
import { FACTS_ANNOTATION } from './publish.ts';

const report: PolicyReport = {
  apiVersion: 'wgpolicyk8s.io/v1alpha2',
  kind: 'PolicyReport',
  metadata: { name: 'tenant-backup-audit', namespace: 'tenant-acme', resourceVersion: '7', annotations: { [FACTS_ANNOTATION]: JSON.stringify({ collectedAt: '2026-12-03T10:00:00Z', nodes: [{ name: 'milan-1', country: 'IT' }] }) } },
  summary: { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 },
  results: [{ policy: 'tenant-backup', rule: 'residency', result: 'pass' }],
};
const at = new Date('2026-12-03T10:05:06.789Z');

describe('auditBundle', () => {
  it('is dated, holds the report and its facts, and a manifest sha256sum verifies', () => {
    const bundle = auditBundle('acme', report, at);
    expect(bundle.name).toBe('audit-acme-20261203T100506Z');
    expect(bundleName('acme', at)).toBe(bundle.name);
    expect(bundle.files.map((f) => f.path)).toEqual(['policyreport.json', 'facts.json', 'README.txt', 'manifest.json', 'manifest-sha256.txt']);
    expect(JSON.parse(bundle.files[1]?.content.toString() ?? '')).toEqual({ collectedAt: '2026-12-03T10:00:00Z', nodes: [{ name: 'milan-1', country: 'IT' }] });
    const dir = mkdtempSync(join(tmpdir(), 'audit-bundle-'));
    const archive = join(dir, 'bundle.tar.gz');
    writeFileSync(archive, bundleArchive(bundle, at));
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n')).toEqual(bundle.files.map((f) => `${bundle.name}/${f.path}`));
    execFileSync('tar', ['-xzf', archive, '-C', dir]);
    expect(execFileSync('sha256sum', ['-c', 'manifest-sha256.txt'], { cwd: join(dir, bundle.name), encoding: 'utf8' })).toContain('policyreport.json: OK');
    writeFileSync(join(dir, bundle.name, 'facts.json'), '{}\n');
    expect(() => execFileSync('sha256sum', ['-c', '--quiet', 'manifest-sha256.txt'], { cwd: join(dir, bundle.name), stdio: 'pipe' })).toThrow();
  });
});
