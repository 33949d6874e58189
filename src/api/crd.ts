/** CustomResourceDefinitions built from the resource definitions: crds/ is generated from this. */
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { CATEGORY, GROUP, objectSchema, VERSION, type ResourceDefinition } from './resource.ts';
import { RESOURCES } from './resources.ts';

/** Schema as plain JSON: TypeBox's bookkeeping symbols dropped, key order kept. */
function plainSchema(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

export function customResourceDefinition(resource: ResourceDefinition): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${resource.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'tenant-backup-operator', 'app.kubernetes.io/part-of': 'tenant-backup' },
    },
    spec: {
      group: GROUP,
      scope: resource.scope,
      names: {
        kind: resource.kind,
        listKind: `${resource.kind}List`,
        plural: resource.plural,
        singular: resource.singular,
        shortNames: resource.shortNames,
        categories: [CATEGORY],
      },
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: resource.printerColumns,
        schema: { openAPIV3Schema: plainSchema(objectSchema(resource)) },
      }],
    },
  };
}

export function allCustomResourceDefinitions(): V1CustomResourceDefinition[] {
  return RESOURCES.map(customResourceDefinition);
}
