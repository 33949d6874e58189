/**
 * The cache indexes the controllers read instead of scanning the fleet on every event: a space's
 * endpoints, a datacenter's spaces, a space's gateway pods. Each lookup registers its index on
 * first use (a no-op afterwards), so whichever controller asks first builds it.
 * The index functions are exported for their tests.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { BackupSpace, Endpoint } from '../api/types.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/object.ts';
import { SPACE_LABEL } from './labels.ts';

const ENDPOINTS_BY_SPACE = 'space';
const SPACES_BY_DATACENTER = 'datacenter';
const PODS_BY_SPACE = 'space';

export const spaceOfEndpoint = (endpoint: Endpoint): string[] => {
  const namespace = endpoint.metadata.namespace ?? '';
  return [`${endpoint.spec.spaceRef.namespace ?? namespace}/${endpoint.spec.spaceRef.name}`];
};
export const datacenterOfSpace = (space: BackupSpace): string[] => [space.spec.datacenter];
export const spaceOfPod = (pod: KubeObject): string[] => {
  const space = pod.metadata.labels?.[SPACE_LABEL];
  return space ? [`${pod.metadata.namespace ?? ''}/${space}`] : [];
};

/** The endpoints whose spaceRef names the space `namespace/name`. */
export function endpointsOfSpace(endpoints: Informer<Endpoint>, namespace: string, name: string): Endpoint[] {
  endpoints.addIndex(ENDPOINTS_BY_SPACE, spaceOfEndpoint);
  return endpoints.byIndex(ENDPOINTS_BY_SPACE, `${namespace}/${name}`);
}

/** The spaces pinned to a datacenter. */
export function spacesInDatacenter(spaces: Informer<BackupSpace>, datacenter: string): BackupSpace[] {
  spaces.addIndex(SPACES_BY_DATACENTER, datacenterOfSpace);
  return spaces.byIndex(SPACES_BY_DATACENTER, datacenter);
}

/** The pods labelled as the gateway of the space `namespace/name`. */
export function podsOfSpace<T extends V1Pod & KubeObject>(pods: Informer<T>, namespace: string, name: string): T[] {
  pods.addIndex(PODS_BY_SPACE, spaceOfPod);
  return pods.byIndex(PODS_BY_SPACE, `${namespace}/${name}`);
}
