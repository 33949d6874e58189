import { stringify } from 'yaml';
import { allCustomResourceDefinitions } from './crd.ts';

const HEADER = '# Generated from src/api by `npm run generate`; do not edit.\n';

/** Repository-relative path and content of every generated CRD manifest. */
export function crdFiles(): [string, string][] {
  return allCustomResourceDefinitions().map((crd) => [
    `crds/${crd.metadata?.name}.yaml`,
    HEADER + stringify(crd, { lineWidth: 0 }),
  ]);
}
