import { backupSpaceResource } from './backupspace.ts';
import { datacenterResource } from './datacenter.ts';
import { endpointResource } from './endpoint.ts';
import type { ResourceDefinition } from './resource.ts';
import { tenantResource } from './tenant.ts';

/** Every kind of the API, in the order a provider creates them. */
export const RESOURCES: readonly ResourceDefinition[] = [datacenterResource, tenantResource, backupSpaceResource, endpointResource];

export function resourceForKind(kind: string): ResourceDefinition | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}
