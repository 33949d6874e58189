/**
 * Offline validation of YAML/JSON manifest files, as a GitOps pipeline runs it before merging:
 * every object of this API group is checked against its CRD schema and rules; objects of other
 * groups are counted and left alone.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isMap, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { API_VERSION, GROUP } from '../api/resource.ts';
import { resourceForKind } from '../api/resources.ts';
import { validateObject, type FieldError } from './object-validator.ts';

export interface ManifestError extends FieldError {
  file: string;
  /** 1-based line of the offending field (or of the document) when known. */
  line?: number;
  /** `Kind/name` or `Kind namespace/name`. */
  object: string;
}

export interface ValidationReport {
  files: number;
  /** Objects of this API group that were validated. */
  validated: number;
  /** Objects of other API groups, not validated. */
  skipped: number;
  errors: ManifestError[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

async function expand(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(entries
    .filter((e) => e.isDirectory() || MANIFEST_EXTENSIONS.has(extname(e.name)))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => expand(join(path, e.name))));
  return nested.flat();
}

function objectLabel(object: Record<string, unknown>): string {
  const metadata = (object.metadata ?? {}) as { name?: string; namespace?: string };
  const name = metadata.name ?? '<unnamed>';
  const kind = String(object.kind ?? '<no kind>');
  return metadata.namespace ? `${kind} ${metadata.namespace}/${name}` : `${kind}/${name}`;
}

/** `spec.contacts[0].email` → ['spec', 'contacts', 0, 'email'] */
function pathSegments(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : (m[1] as string)));
}

function lineOf(document: Document, lineCounter: LineCounter, path: string, base: (string | number)[]): number | undefined {
  const segments = [...base, ...pathSegments(path)];
  // The field itself may be missing (a required one): point at the nearest ancestor that exists.
  for (let length = segments.length; length >= 0; length--) {
    const node = length === 0 ? document.contents : document.getIn(segments.slice(0, length), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lineCounter.linePos(range[0]).line;
  }
  return undefined;
}

function validateDocumentObject(object: Record<string, unknown>, file: string, locate: (path: string) => number | undefined): { ours: boolean; errors: ManifestError[] } {
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  if (apiVersion.split('/')[0] !== GROUP) return { ours: false, errors: [] };
  const label = objectLabel(object);
  const fail = (path: string, rule: string, message: string): ManifestError => ({ file, object: label, path, rule, message, line: locate(path) });
  if (apiVersion !== API_VERSION) {
    return { ours: true, errors: [fail('apiVersion', 'version', `unsupported version ${apiVersion}; this operator serves ${API_VERSION}`)] };
  }
  const resource = resourceForKind(String(object.kind));
  if (!resource) return { ours: true, errors: [fail('kind', 'kind', `unknown kind ${String(object.kind)} in ${GROUP}`)] };
  const errors: ManifestError[] = validateObject(resource, object).map((e) => ({ ...e, file, object: label, line: locate(e.path) }));
  const metadata = object.metadata as { name?: unknown; namespace?: unknown } | undefined;
  if (typeof metadata?.name !== 'string' || metadata.name === '') errors.push(fail('metadata.name', 'required', 'Required value'));
  if (resource.scope === 'Namespaced' && metadata?.namespace === undefined) {
    errors.push(fail('metadata.namespace', 'required', 'Required value: a namespaced object in a GitOps repository must say its namespace'));
  }
  if (resource.scope === 'Cluster' && metadata?.namespace !== undefined) {
    errors.push(fail('metadata.namespace', 'forbidden', `${resource.kind} is cluster-scoped and takes no namespace`));
  }
  return { ours: true, errors };
}

export async function validateManifests(paths: string[]): Promise<ValidationReport> {
  const files = (await Promise.all(paths.map(expand))).flat();
  const report: ValidationReport = { files: files.length, validated: 0, skipped: 0, errors: [] };
  for (const file of files) {
    const lineCounter = new LineCounter();
    const documents = parseAllDocuments(await readFile(file, 'utf8'), { lineCounter });
    const list = Array.isArray(documents) ? documents : [documents];
    for (const document of list) {
      if (document.errors.length > 0) {
        for (const error of document.errors) {
          report.errors.push({ file, object: '<unparsed>', path: '', rule: 'yaml', message: error.message.split('\n')[0] ?? 'invalid YAML', line: error.linePos?.[0].line });
        }
        continue;
      }
      if (!isMap(document.contents)) continue;
      const object = document.toJS() as Record<string, unknown>;
      const items = object.kind === 'List' && Array.isArray(object.items) ? (object.items as Record<string, unknown>[]) : [object];
      items.forEach((item, index) => {
        const base = items.length === 1 && item === object ? [] : ['items', index];
        const { ours, errors } = validateDocumentObject(item, file, (path) => lineOf(document, lineCounter, path, base));
        if (ours) report.validated++;
        else report.skipped++;
        report.errors.push(...errors);
      });
    }
  }
  return report;
}

export function formatError(error: ManifestError): string {
  const where = error.line ? `${error.file}:${error.line}` : error.file;
  return `${where}: ${error.object}: ${error.path || '<object>'}: ${error.message} [${error.rule}]`;
}
