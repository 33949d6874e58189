import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatError, validateManifests } from './manifests.ts';

const run = promisify(execFile);
const entryPoint = join(import.meta.dirname, '../cli/main.ts');

async function fileWith(content: string, name = 'manifest.yaml'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'validate-'));
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const goodTenant = `apiVersion: tenantbackup.io/v1alpha1
kind: Tenant
metadata:
  name: acme
spec:
  displayName: Acme
  contacts:
    - name: Anna
      email: anna@example.com
  residency:
    countries: [IT]
  quotas:
    storage: 100Gi
`;

describe('validateManifests', () => {
  it('judges storage quotas with the CEL quantity library as the API server does', async () => {
    const verdicts: Record<string, boolean> = {};
    for (const storage of ['100Gi', '1Ei', '1000000000', "'0.5'", '-1Gi', '0', "'0Gi'", "'1e30'", '1e30', "'1025Pi'", '2000000000000000000']) {
      const report = await validateManifests([await fileWith(goodTenant.replace('storage: 100Gi', `storage: ${storage}`))]);
      verdicts[storage] = report.errors.length === 0;
      if (!verdicts[storage]) expect(report.errors).toMatchObject([{ path: 'spec.quotas.storage', message: 'storage must be more than 0 and at most 1Ei (e.g. 500Gi)' }]);
    }
    expect(verdicts).toEqual({
      '100Gi': true, '1Ei': true, '1000000000': true, "'0.5'": true,
      '-1Gi': false, '0': false, "'0Gi'": false, "'1e30'": false, '1e30': false, "'1025Pi'": false, '2000000000000000000': false,
    });
  });

  it('judges an expected backup interval as a Go duration of at least a second, naming the field', async () => {
    const verdicts: Record<string, boolean> = {};
    for (const interval of ['240s', '4m', '1h30m', '1.5h', '24h', '0s', '500ms', '4', "'4 minutes'", '1d', '-4m']) {
      const report = await validateManifests([await fileWith(goodTenant.replace('  quotas:', `  plan:\n    expectedBackupInterval: ${interval}\n  quotas:`))]);
      verdicts[interval] = report.errors.length === 0;
      if (!verdicts[interval] && interval !== '4') {
        expect(report.errors).toMatchObject([{ path: 'spec.plan.expectedBackupInterval', message: 'expectedBackupInterval must be a duration of at least 1s in hours, minutes and seconds, e.g. 240s, 4m, 1h30m or 24h' }]);
      }
    }
    expect(verdicts).toEqual({
      '240s': true, '4m': true, '1h30m': true, '1.5h': true, '24h': true,
      '0s': false, '500ms': false, '4': false, "'4 minutes'": false, '1d': false, '-4m': false,
    });
  });

  it('accepts a valid object and skips objects of other APIs', async () => {
    const path = await fileWith(`${goodTenant}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n`);
    const report = await validateManifests([path]);
    expect(report).toMatchObject({ files: 1, validated: 1, skipped: 1, errors: [] });
  });

  it('names file, line, object, field path and rule', async () => {
    const path = await fileWith(goodTenant.replace('anna@example.com', 'anna-at-example'));
    const [error, ...rest] = (await validateManifests([path])).errors;
    expect(error).toMatchObject({ file: path, line: 9, object: 'Tenant/acme', path: 'spec.contacts[0].email', rule: 'format' });
    expect(formatError(error!)).toBe(`${path}:9: Tenant/acme: spec.contacts[0].email: must be of type email [format]`);
    // The API server does not run CEL rules on an object with type errors, and says so.
    expect(rest.map((e) => e.message)).toEqual(['some validation rules were not checked because the object was invalid; correct the existing errors to complete validation']);
  });

  it('names metadata.name for the rules on the whole object, as the API server does (not <nil>, not <object>)', async () => {
    const long = 'a-tenant-name-far-too-long-for-its-namespace-name-to-fit-in-63';
    const path = await fileWith(goodTenant.replace('name: acme', `name: ${long}`));
    const [error, ...rest] = (await validateManifests([path])).errors;
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ path: 'metadata.name', rule: 'cel', line: 4 });
    expect(formatError(error!)).toBe(`${path}:4: Tenant/${long}: metadata.name: the tenant name must be at most 56 characters, so that its namespace tenant-<name> fits in 63 [cel]`);
  });

  it('points a missing required field at its parent line', async () => {
    const path = await fileWith(goodTenant.replace('  quotas:\n    storage: 100Gi\n', '  quotas: {}\n'));
    const [error] = (await validateManifests([path])).errors;
    expect(error).toMatchObject({ path: 'spec.quotas.storage', rule: 'required', line: 12 });
  });

  it('evaluates CEL rules with defaults applied first', async () => {
    const path = await fileWith(`${goodTenant}  contract:\n    endDate: "2026-12-31"\n`);
    const errors = (await validateManifests([path])).errors;
    // state defaults to Active, and an end date needs a Terminated contract.
    expect(errors.map((e) => [e.path, e.rule])).toEqual([['spec.contract.endDate', 'cel']]);
  });

  it('refuses unknown fields, unknown kinds and versions, and namespaces on cluster-scoped kinds', async () => {
    const path = await fileWith([
      goodTenant.replace('  displayName: Acme\n', '  displayName: Acme\n  colour: blue\n'),
      'apiVersion: tenantbackup.io/v1alpha1\nkind: Tenants\nmetadata: {name: x}\nspec: {}\n',
      'apiVersion: tenantbackup.io/v1\nkind: Tenant\nmetadata: {name: x}\nspec: {}\n',
      goodTenant.replace('  name: acme\n', '  name: acme\n  namespace: default\n'),
    ].join('---\n'));
    const errors = (await validateManifests([path])).errors;
    expect(errors.map((e) => [e.path, e.rule])).toEqual([
      ['spec.colour', 'unknown-field'],
      ['kind', 'kind'],
      ['apiVersion', 'version'],
      ['metadata.namespace', 'forbidden'],
    ]);
  });

  it('requires a namespace on namespaced kinds, and walks List items', async () => {
    const path = await fileWith(`apiVersion: v1
kind: List
items:
  - apiVersion: tenantbackup.io/v1alpha1
    kind: Endpoint
    metadata: {name: laptop}
    spec: {spaceRef: {name: main}, kind: Desktop, selection: {include: [/home]}}
`);
    const report = await validateManifests([path]);
    expect(report.validated).toBe(1);
    expect(report.errors.map((e) => [e.object, e.path])).toEqual([['Endpoint/laptop', 'metadata.namespace']]);
  });

  it('reports YAML syntax errors with their line', async () => {
    const path = await fileWith('apiVersion: tenantbackup.io/v1alpha1\nkind: Tenant\nmetadata: {name: [\n');
    const [error] = (await validateManifests([path])).errors;
    expect(error).toMatchObject({ rule: 'yaml' });
    expect(error?.line).toBeGreaterThan(0);
  });

  it('searches directories recursively', async () => {
    const path = await fileWith(goodTenant, 'a.yaml');
    const dir = join(path, '..');
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
    expect((await validateManifests([dir])).validated).toBe(1);
  });
});

describe('validate command', () => {
  // Spawns two Node processes: slow on a loaded 2-core machine, so not held to the 5 s default.
  it('exits 0 for valid manifests and 1 for invalid ones, printing each error', { timeout: 30_000 }, async () => {
    const node = process.execPath;
    const good = await fileWith(goodTenant);
    const ok = await run(node, [entryPoint, 'validate', good]);
    expect(ok.stderr).toContain('1 object(s) validated');
    const bad = await fileWith(goodTenant.replace('IT', 'EU'));
    const failed = await run(node, [entryPoint, 'validate', bad]).catch((e: { code: number; stdout: string }) => e);
    expect('code' in failed && failed.code).toBe(1);
    expect(failed.stdout).toContain('spec.residency.countries[0]: must be an ISO 3166-1 alpha-2 country code');
  });
});
