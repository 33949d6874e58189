import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART_CRD_TEMPLATES, chartCrdTemplates, crdFiles } from './crd-files.ts';
import { allCustomResourceDefinitions } from './crd.ts';

const root = join(import.meta.dirname, '../..');

describe('CRDs', () => {
  it('crds/ is what src/api generates (run `npm run generate` after changing the API)', async () => {
    for (const [path, content] of crdFiles()) {
      expect(await readFile(join(root, path), 'utf8'), path).toBe(content);
    }
  });

  it('the chart\'s CRD templates are what src/api generates, and nothing else is in their folder', async () => {
    const templates = chartCrdTemplates();
    expect((await readdir(join(root, CHART_CRD_TEMPLATES))).sort()).toEqual(templates.map(([path]) => path.slice(CHART_CRD_TEMPLATES.length + 1)).sort());
    for (const [path, content] of templates) {
      expect(await readFile(join(root, path), 'utf8'), `${path}: run npm run generate`).toBe(content);
    }
  });

  it('templates the chart\'s CRDs around the generated spec, which they carry unchanged', () => {
    const crds = allCustomResourceDefinitions();
    for (const [[, template], crd] of chartCrdTemplates().map((t, i) => [t, crds[i]] as const)) {
      const lines = template.split('\n');
      expect(lines[0]).toBe('{{- if .Values.crds.enabled }}');
      expect(template).toContain('    helm.sh/resource-policy: keep\n');
      // Everything from `spec:` on is plain YAML: the CRD's spec, byte for byte what crds/ holds.
      const spec = template.slice(template.indexOf('\nspec:\n') + 1, template.lastIndexOf('{{- end }}'));
      expect(parse(spec)).toEqual({ spec: crd?.spec });
    }
  });

  it('puts every kind in the tenantbackup category with a status subresource and described fields', () => {
    const crds = allCustomResourceDefinitions();
    expect(crds.map((c) => c.spec.names.kind)).toEqual(['Datacenter', 'Tenant', 'BackupSpace', 'Endpoint']);
    for (const crd of crds) {
      expect(crd.spec.names.categories).toEqual(['tenantbackup']);
      const version = crd.spec.versions[0];
      expect(version?.subresources?.status).toEqual({});
      const undescribed: string[] = [];
      const walk = (schema: Record<string, unknown>, path: string) => {
        const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
        for (const [name, child] of Object.entries(properties)) {
          const childPath = `${path}.${name}`;
          if (path !== '' || name === 'spec' || name === 'status') {
            if (!child.description) undescribed.push(childPath);
          }
          walk(child, childPath);
          if (child.items) walk(child.items as Record<string, unknown>, `${childPath}[]`);
        }
      };
      walk(version?.schema?.openAPIV3Schema as Record<string, unknown>, '');
      // Conditions follow metav1.Condition, whose fields are described; everything else must be too.
      expect(undescribed.filter((p) => !p.includes('conditions[]')), crd.metadata?.name).toEqual([]);
    }
  });

  it('gives every rule on the whole object a field path, which the schema declares (else the API server says `<nil>`)', () => {
    for (const crd of allCustomResourceDefinitions()) {
      const root = crd.spec.versions[0]?.schema?.openAPIV3Schema as { 'x-kubernetes-validations'?: { fieldPath?: string }[]; properties?: Record<string, { properties?: Record<string, unknown> }> };
      for (const rule of root['x-kubernetes-validations'] ?? []) {
        expect(rule.fieldPath, crd.metadata?.name).toBe('.metadata.name');
      }
      expect(Object.keys(root.properties?.metadata?.properties ?? {})).toEqual(['name']);
    }
  });

  it('does not take the core Endpoints short name', () => {
    const endpoint = allCustomResourceDefinitions().find((c) => c.spec.names.kind === 'Endpoint');
    expect(endpoint?.spec.names.shortNames).not.toContain('ep');
    expect(endpoint?.spec.names.shortNames).toContain('bep');
  });
});
