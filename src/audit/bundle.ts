/**
 * The bundle the provider hands the auditor (S17): the tenant's PolicyReport as published, the facts
 * its results were decided on, and a manifest with the SHA-256 of each file (also as
 * `manifest-sha256.txt`, which `sha256sum -c` checks). Pure: files in, files out.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { endOfArchive, smallEntry } from '../export/tar.ts';
import type { PolicyReport } from './policy-report.ts';
import { FACTS_ANNOTATION } from './publish.ts';

export interface BundleFile {
  path: string;
  content: Buffer;
}

export interface AuditBundle {
  /** Directory name inside the archive, dated: audit-<tenant>-<UTC time>. */
  name: string;
  files: BundleFile[];
}

const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

export function bundleName(tenant: string, at: Date): string {
  return `audit-${tenant}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

export function auditBundle(tenant: string, report: PolicyReport, at: Date): AuditBundle {
  const factsText = report.metadata.annotations?.[FACTS_ANNOTATION];
  const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  const files: BundleFile[] = [
    { path: 'policyreport.json', content: json(report) },
    { path: 'facts.json', content: json(factsText ? JSON.parse(factsText) as unknown : { missing: `the report has no ${FACTS_ANNOTATION} annotation` }) },
    {
      path: 'README.txt',
      content: Buffer.from([
        `Audit evidence of tenant ${tenant} (S17), exported ${at.toISOString()}.`,
        'policyreport.json: the PolicyReport (wgpolicyk8s.io/v1alpha2) the operator publishes in the tenant\'s namespace, one result per control.',
        'facts.json: what the results were decided on, as read from the cluster (scheduler bindings, node country labels, Secrets by key id, NetworkPolicies, ResourceQuota).',
        'manifest.json and manifest-sha256.txt: the SHA-256 of every other file; check with `sha256sum -c manifest-sha256.txt`.',
        '',
      ].join('\n')),
    },
  ];
  const digests = files.map((f) => ({ path: f.path, size: f.content.length, sha256: sha256(f.content) }));
  const manifest = json({ tenant, generatedAt: at.toISOString(), report: { namespace: report.metadata.namespace, name: report.metadata.name, resourceVersion: report.metadata.resourceVersion, summary: report.summary }, files: digests });
  const sums = Buffer.from(digests.map((d) => `${d.sha256}  ${d.path}\n`).join(''));
  return { name: bundleName(tenant, at), files: [...files, { path: 'manifest.json', content: manifest }, { path: 'manifest-sha256.txt', content: sums }] };
}

/** The bundle as a gzipped POSIX tar, every file under the bundle's dated directory. */
export function bundleArchive(bundle: AuditBundle, at: Date): Buffer {
  const mtime = Math.floor(at.getTime() / 1000);
  return gzipSync(Buffer.concat([...bundle.files.map((f) => smallEntry(`${bundle.name}/${f.path}`, f.content, mtime)), endOfArchive()]));
}
