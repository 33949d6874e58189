/** Builders of valid objects of this API for tests; each takes overrides of its spec. */
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../src/api/types.ts';
import type { TenantSpec } from '../../src/api/tenant.ts';
import type { BackupSpaceSpec } from '../../src/api/backupspace.ts';
import type { EndpointSpec } from '../../src/api/endpoint.ts';
import type { DatacenterSpec } from '../../src/api/datacenter.ts';
import { API_VERSION } from '../../src/api/resource.ts';
import { DATACENTER_STORAGE_CLASS, ZONE_LABEL } from '../harness/topology.ts';

export function tenant(name: string, spec: Partial<TenantSpec> = {}, uid = `uid-${name}`): Tenant {
  return {
    apiVersion: API_VERSION,
    kind: 'Tenant',
    metadata: { name, uid, generation: 1 },
    spec: {
      displayName: `Customer ${name}`,
      contacts: [{ name: 'Anna', email: 'anna@example.com' }],
      residency: { countries: ['IT'] },
      quotas: { storage: '100Gi', spaces: 2, endpoints: 5 },
      ...spec,
    },
  };
}

export function datacenter(name: string, country: string, spec: Partial<DatacenterSpec> = {}): Datacenter {
  return {
    apiVersion: API_VERSION,
    kind: 'Datacenter',
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec: {
      country,
      nodeSelector: { matchLabels: { [ZONE_LABEL]: name } },
      storage: { storageClassName: DATACENTER_STORAGE_CLASS },
      ...spec,
    },
  };
}

export function space(name: string, namespace: string, spec: Partial<BackupSpaceSpec> = {}): BackupSpace {
  return {
    apiVersion: API_VERSION,
    kind: 'BackupSpace',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1 },
    spec: { size: '10Gi', datacenter: 'it-mil1', ...spec },
  };
}

export function endpoint(name: string, namespace: string, spaceName: string, spec: Partial<EndpointSpec> = {}): Endpoint {
  return {
    apiVersion: API_VERSION,
    kind: 'Endpoint',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1 },
    spec: { spaceRef: { name: spaceName }, kind: 'Server', selection: { include: ['/srv'] }, ...spec },
  };
}
