/**
 * The API as the real API server serves it: examples apply, every validation rule is enforced with a
 * message naming the field, immutable fields stay immutable under `kubectl apply`, `kubectl explain`
 * and printer columns work, and the offline `validate` command finds what the API server finds.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { resourceForKind } from '../../src/api/resources.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { isApiError, type KubeApiError } from '../../src/runtime/kube/errors.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { validateManifests } from '../../src/validate/manifests.ts';
import { installCrds } from '../support/crds.ts';
import { clients, uniqueName } from '../support/kube.ts';
import { kubectl } from '../support/kubectl.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const root = join(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures/manifests');

type Manifest = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

async function manifestsIn(file: string): Promise<Manifest[]> {
  return parseAllDocuments(await readFile(file, 'utf8')).map((d) => d.toJS() as Manifest).filter((m) => m !== null);
}

async function ensureNamespace(name: string): Promise<void> {
  try {
    await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name } } });
  } catch (error) {
    if (!isApiError(error, 409)) throw error;
  }
}

function refFor(kind: string) {
  const ref = Object.values(API).find((r) => r.kind === kind);
  if (!ref) throw new Error(`not a kind of this API: ${kind}`);
  return ref;
}

const SKIPPED_RULES = 'some validation rules were not checked';

/** What the API server says about creating this object (dry run, strict field validation, as kubectl). */
async function serverVerdict(object: Manifest): Promise<{ accepted: boolean; fields: string[]; message: string }> {
  const ref = refFor(object.kind);
  try {
    await client.request({
      method: 'POST',
      path: collectionPath(ref, object.metadata.namespace),
      query: { dryRun: 'All', fieldValidation: 'Strict' },
      body: object,
    });
    return { accepted: true, fields: [], message: '' };
  } catch (error) {
    if (!isApiError(error)) throw error;
    const apiError = error as KubeApiError;
    // The API server's own note that it skipped the CEL rules of an invalid object has no field
    // (`<nil>`; validate says it at the object). Any other `<nil>` is one of our rules naming no
    // field (hardening item 18): it is kept, and fails below.
    const fields = apiError.causes.filter((c) => !(c.message ?? '').includes(SKIPPED_RULES)).map((c) => c.field ?? '').filter((f) => f !== '');
    // Strict decoding errors have no causes; the path is in the message: `unknown field "spec.zone"`.
    const unknown = [...apiError.serverMessage.matchAll(/unknown field "([^"]+)"/g)].map((m) => m[1] as string);
    return { accepted: false, fields: [...fields, ...unknown], message: apiError.serverMessage };
  }
}

async function offlineVerdict(file: string): Promise<{ accepted: boolean; fields: string[]; messages: string[] }> {
  const report = await validateManifests([file]);
  const fields = report.errors.map((e) => e.path).filter((p) => p !== '');
  return { accepted: report.errors.length === 0, fields, messages: report.errors.map((e) => `${e.path}: ${e.message}`) };
}

const unique = (values: string[]) => [...new Set(values)].sort();

beforeAll(async () => {
  await installCrds(client);
  await ensureNamespace('tenant-example');
});

describe('examples', () => {
  it('every example applies to the real API server and validates offline', async () => {
    const files = (await readdir(join(root, 'examples'))).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBeGreaterThanOrEqual(5);
    const objects = (await Promise.all(files.map((f) => manifestsIn(join(root, 'examples', f))))).flat();
    for (const namespace of new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => !!n))) await ensureNamespace(namespace);
    const result = await kubectl(kubeconfigPath, ['apply', '--server-side', '--force-conflicts', '--field-manager=examples-test', '-f', join(root, 'examples')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const kinds = new Map<string, number>();
    for (const object of objects) kinds.set(object.kind, (kinds.get(object.kind) ?? 0) + 1);
    expect(kinds.get('Datacenter')).toBe(3);
    expect(kinds.get('Tenant')).toBe(3);
    expect(kinds.get('BackupSpace')).toBe(3);
    expect(kinds.get('Endpoint')).toBeGreaterThanOrEqual(6);
    const listed = await kubectl(kubeconfigPath, ['get', 'tenantbackup', '--all-namespaces', '-o', 'name']);
    for (const object of objects.filter((o) => resourceForKind(o.kind))) {
      expect(listed.stdout).toContain(`${resourceForKind(object.kind)?.singular}.tenantbackup.io/${object.metadata.name}`);
    }
    const offline = await validateManifests([join(root, 'examples')]);
    expect(offline.errors).toEqual([]);
    expect(offline.validated).toBe(objects.filter((o) => resourceForKind(o.kind)).length);
  });
});

describe('validation: the API server and `validate` agree', async () => {
  const badFiles = (await readdir(join(fixtures, 'bad'))).filter((f) => f.endsWith('.yaml')).sort();
  const goodFiles = (await readdir(join(fixtures, 'good'))).filter((f) => f.endsWith('.yaml')).sort();

  it('has a bad manifest for every kind', () => {
    expect(badFiles.length).toBeGreaterThanOrEqual(30);
  });

  it.each(badFiles)('refuses %s, naming the field', async (file) => {
    const path = join(fixtures, 'bad', file);
    const text = await readFile(path, 'utf8');
    const expected = /^# expect: (.+)$/m.exec(text)?.[1];
    expect(expected, 'fixture must say which field it breaks').toBeDefined();
    const [object] = await manifestsIn(path);
    if (!object) throw new Error(`${file} holds no object`);
    // A unique name that keeps within every kind's name rule (at most 40), unless the fixture is about the name.
    object.metadata.name = object.metadata.name.length > 56 ? object.metadata.name : uniqueName(object.metadata.name.slice(0, 32));

    const server = await serverVerdict(object);
    const offline = await offlineVerdict(path);
    expect(server.accepted, `the API server accepted ${file}`).toBe(false);
    expect(offline.accepted, `validate accepted ${file}`).toBe(false);
    expect(server.fields).toContain(expected);
    expect(server.message).toContain(expected);
    expect(server.fields).not.toContain('<nil>');
    expect(unique(offline.fields)).toEqual(unique(server.fields));
  });

  it.each(goodFiles)('accepts every object of %s', async (file) => {
    const path = join(fixtures, 'good', file);
    const offline = await offlineVerdict(path);
    expect(offline.messages).toEqual([]);
    for (const object of await manifestsIn(path)) {
      const verdict = await serverVerdict(object);
      expect(verdict.message).toBe('');
      expect(verdict.accepted).toBe(true);
    }
  });
});

describe('immutable fields', () => {
  async function apply(manifest: string): Promise<{ code: number; stderr: string }> {
    return kubectl(kubeconfigPath, ['apply', '--server-side', '--field-manager=immutability-test', '-f', '-'], manifest);
  }

  const tenant = (name: string, custody: string, contract = 'state: Active') => `
apiVersion: tenantbackup.io/v1alpha1
kind: Tenant
metadata: {name: ${name}}
spec:
  displayName: Immutability Test
  contacts: [{name: Anna, email: anna@example.com}]
  residency: {countries: [IT]}
  quotas: {storage: 100Gi}
  security: {keyCustody: ${custody}}
  contract: {${contract}}
`;

  it('key custody of a tenant cannot change', async () => {
    const name = uniqueName('immutable-custody');
    expect((await apply(tenant(name, 'provider'))).code).toBe(0);
    const changed = await apply(tenant(name, 'customer'));
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('spec.security.keyCustody');
    expect(changed.stderr).toContain('keyCustody is immutable');
  });

  it('a terminated contract cannot be reactivated', async () => {
    const name = uniqueName('immutable-contract');
    expect((await apply(tenant(name, 'provider', "state: Terminated, endDate: '2026-11-01', exportOnTermination: false"))).code).toBe(0);
    const reactivated = await apply(tenant(name, 'provider', 'state: Active'));
    expect(reactivated.code).not.toBe(0);
    expect(reactivated.stderr).toContain('spec.contract.state');
    expect(reactivated.stderr).toContain('cannot be reactivated');
  });

  const space = (name: string, fields: string) => `
apiVersion: tenantbackup.io/v1alpha1
kind: BackupSpace
metadata: {name: ${name}, namespace: tenant-example}
spec:
${fields}
`;

  it('a space cannot move to another datacenter, change custody or shrink', async () => {
    const name = uniqueName('immutable-space');
    expect((await apply(space(name, '  size: 50Gi\n  datacenter: it-mil1\n  encryption: {keyCustody: provider}'))).code).toBe(0);

    const moved = await apply(space(name, '  size: 50Gi\n  datacenter: de-fra1\n  encryption: {keyCustody: provider}'));
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toContain('spec.datacenter');
    expect(moved.stderr).toContain('datacenter is immutable');

    const custody = await apply(space(name, '  size: 50Gi\n  datacenter: it-mil1\n  encryption: {keyCustody: customer}'));
    expect(custody.code).not.toBe(0);
    expect(custody.stderr).toContain('spec.encryption.keyCustody');

    const shrunk = await apply(space(name, '  size: 40Gi\n  datacenter: it-mil1\n  encryption: {keyCustody: provider}'));
    expect(shrunk.code).not.toBe(0);
    expect(shrunk.stderr).toContain('spec.size');
    expect(shrunk.stderr).toContain('cannot shrink');

    const grown = await apply(space(name, '  size: 60Gi\n  datacenter: it-mil1\n  encryption: {keyCustody: provider}'));
    expect(grown.stderr).toBe('');
    expect(grown.code).toBe(0);
  });

  it('an endpoint cannot move to another space', async () => {
    const name = uniqueName('immutable-endpoint');
    const endpoint = (spaceName: string) => `
apiVersion: tenantbackup.io/v1alpha1
kind: Endpoint
metadata: {name: ${name}, namespace: tenant-example}
spec: {spaceRef: {name: ${spaceName}}, kind: Server, selection: {include: [/srv]}}
`;
    expect((await apply(endpoint('first'))).code).toBe(0);
    const moved = await apply(endpoint('second'));
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toContain('spec.spaceRef');
    expect(moved.stderr).toContain('spaceRef is immutable');
  });
});

describe('kubectl', () => {
  it('explains every kind with the schema descriptions', async () => {
    const explained = await kubectl(kubeconfigPath, ['explain', 'tenants.spec.security.keyCustody']);
    expect(explained.code).toBe(0);
    expect(explained.stdout.replace(/\s+/g, ' ')).toContain('a lost password means the data is lost');
    for (const [resource, phrase] of [
      ['datacenters.spec.country', 'ISO 3166-1 alpha-2'],
      ['backupspaces.spec.datacenter', 'Immutable'],
      // `endpoints` alone is the core resource; the group version picks ours.
      ['endpoints.spec.selection --api-version=tenantbackup.io/v1alpha1', 'activation questionnaire'],
      ['bep.spec.spaceRef', 'The space this endpoint backs up to'],
    ] as const) {
      const result = await kubectl(kubeconfigPath, ['explain', ...resource.split(' ')]);
      expect(result.stderr).toBe('');
      expect(result.stdout.replace(/\s+/g, ' ')).toContain(phrase);
    }
  });

  it('shows the printer columns and the category', async () => {
    const tenants = await kubectl(kubeconfigPath, ['get', 'tenants']);
    const header = tenants.stdout.split('\n')[0] ?? '';
    for (const column of ['NAME', 'DISPLAY NAME', 'TIER', 'CONTRACT', 'NAMESPACE', 'STORAGE', 'QUOTA', 'SPACES', 'READY', 'AGE']) expect(header).toContain(column);
    expect(tenants.stdout).toMatch(/acme\s+Acme S\.p\.A\.\s+premium\s+Active/);

    const spaces = await kubectl(kubeconfigPath, ['get', 'bs', '-A']);
    for (const column of ['DATACENTER', 'COUNTRY', 'SIZE', 'USED', 'ENDPOINTS', 'PHASE', 'READY']) expect(spaces.stdout.split('\n')[0]).toContain(column);
    expect(spaces.stdout).toMatch(/tenant-bottega\s+main\s+de-fra1/);

    const endpoints = await kubectl(kubeconfigPath, ['get', 'endpoints.tenantbackup.io', '-n', 'tenant-acme']);
    for (const column of ['SPACE', 'KIND', 'OS', 'ACTIVATION', 'LAST BACKUP', 'STORED']) expect(endpoints.stdout.split('\n')[0]).toContain(column);
    expect(endpoints.stdout).toMatch(/erp-server\s+vault\s+Server\s+Linux/);

    const all = await kubectl(kubeconfigPath, ['get', 'tenantbackup', '-A']);
    for (const kind of ['datacenter.tenantbackup.io/it-mil1', 'tenant.tenantbackup.io/acme', 'backupspace.tenantbackup.io/vault', 'endpoint.tenantbackup.io/nas']) {
      expect(all.stdout).toContain(kind);
    }
  });
});
