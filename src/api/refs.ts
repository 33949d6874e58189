import type { ResourceRef } from '../runtime/kube/resource-ref.ts';
import { GROUP, VERSION, type ResourceDefinition } from './resource.ts';
import { backupSpaceResource } from './backupspace.ts';
import { datacenterResource } from './datacenter.ts';
import { endpointResource } from './endpoint.ts';
import { tenantResource } from './tenant.ts';

export function refOf(resource: ResourceDefinition): ResourceRef {
  return { group: GROUP, version: VERSION, kind: resource.kind, plural: resource.plural, namespaced: resource.scope === 'Namespaced' };
}

export const API = {
  Datacenter: refOf(datacenterResource),
  Tenant: refOf(tenantResource),
  BackupSpace: refOf(backupSpaceResource),
  Endpoint: refOf(endpointResource),
} as const;
