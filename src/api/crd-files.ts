import { stringify } from 'yaml';
import { allCustomResourceDefinitions } from './crd.ts';

const HEADER = '# Generated from src/api by `npm run generate`; do not edit.\n';

/**
 * kubectl and Helm read YAML 1.1, where an unquoted Off, On, Yes or No is a boolean: written as
 * YAML 1.1, such strings (an enum value like Off) are quoted and stay strings.
 */
const YAML_OPTIONS = { lineWidth: 0, version: '1.1' } as const;

/** Where the chart keeps its CRDs: as templates, not in crds/, which Helm never upgrades (chart README, "CRDs and upgrades"). */
export const CHART_CRD_TEMPLATES = 'charts/tenant-backup-operator/templates/crds';

/** Repository-relative path and content of every generated CRD manifest. */
export function crdFiles(): [string, string][] {
  return allCustomResourceDefinitions().map((crd) => [
    `crds/${crd.metadata?.name}.yaml`,
    HEADER + stringify(crd, YAML_OPTIONS),
  ]);
}

const indent = (text: string, spaces: number): string => text.trimEnd().split('\n').map((line) => `${' '.repeat(spaces)}${line}`).join('\n');

/**
 * The chart's template of each CRD: the same CRD, rendered only with `crds.enabled`, labelled as the
 * release's, and — with `crds.keep` — annotated so that neither `helm uninstall`, an upgrade that
 * stops rendering it, nor an Argo CD prune deletes it (deleting a CRD deletes every object of its
 * kind: every tenant, space and endpoint).
 */
export function chartCrdTemplates(): [string, string][] {
  return allCustomResourceDefinitions().map((crd) => {
    const { apiVersion, kind, metadata, spec } = crd;
    const specText = stringify({ spec }, YAML_OPTIONS).trimEnd();
    // Helm would read a `{{` in a description as a template action.
    if (specText.includes('{{') || specText.includes('}}')) throw new Error(`CRD ${metadata?.name}: its text contains {{ or }}, which Helm would read as a template`);
    const labels = stringify(metadata?.labels ?? {}, YAML_OPTIONS);
    const template = [
      '{{- if .Values.crds.enabled }}',
      HEADER.trimEnd(),
      stringify({ apiVersion, kind }, YAML_OPTIONS).trimEnd(),
      'metadata:',
      `  name: ${metadata?.name}`,
      '  labels:',
      indent(labels, 4),
      '    app.kubernetes.io/managed-by: {{ .Release.Service }}',
      '    helm.sh/chart: {{ include "tbo.chart" . }}',
      '  {{- if .Values.crds.keep }}',
      '  annotations:',
      '    helm.sh/resource-policy: keep',
      '    argocd.argoproj.io/sync-options: Delete=false,Prune=false',
      '  {{- end }}',
      specText,
      '{{- end }}',
      '',
    ].join('\n');
    return [`${CHART_CRD_TEMPLATES}/${metadata?.name}.yaml`, template];
  });
}
