import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import type { CelRule } from './schema.ts';

export const GROUP = 'tenantbackup.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'tenantbackup';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface ResourceDefinition<Spec extends TSchema = TSchema, Status extends TSchema = TSchema> {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec: Spec;
  status: Status;
  printerColumns: PrinterColumn[];
  /**
   * Rules on the whole object (they may read metadata.name and spec together). Each needs a fieldPath
   * (`.metadata.name`, `.spec.x`): a rule at the root without one is reported at path `<nil>`.
   */
  rules?: (CelRule & { fieldPath: string })[];
}

export function defineResource<Spec extends TSchema, Status extends TSchema>(definition: ResourceDefinition<Spec, Status>): ResourceDefinition<Spec, Status> {
  return definition;
}

/** The OpenAPI v3 schema of a whole object of this kind, as the CRD and offline validation use it. */
export function objectSchema(resource: ResourceDefinition): TObject {
  return Type.Object({
    apiVersion: Type.Optional(Type.String({ description: 'APIVersion defines the versioned schema of this representation of an object.' })),
    kind: Type.Optional(Type.String({ description: 'Kind is a string value representing the REST resource this object represents.' })),
    // Only name is declared (all a CRD may say of metadata), so that the rules on the whole object
    // can name it as their fieldPath: without one, the API server reports them at path `<nil>`.
    metadata: Type.Optional(Type.Unsafe<Record<string, unknown>>({ type: 'object', properties: { name: { type: 'string', description: 'Name of the object, unique in its namespace (or in the cluster) and immutable.' } } })),
    spec: { ...resource.spec, description: resource.spec.description ?? `Desired state of the ${resource.kind}, written by its owner; the operator never changes it.` },
    status: Type.Optional({ ...resource.status, description: resource.status.description ?? `Observed state of the ${resource.kind}, written by the operator.` }),
  }, {
    description: resource.description,
    ...(resource.rules ? { 'x-kubernetes-validations': resource.rules } : {}),
  });
}
