/** The four kinds as TypeScript objects, typed from the same schemas the CRDs are generated from. */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { BackupSpaceSpec, BackupSpaceStatus } from './backupspace.ts';
import type { DatacenterSpec, DatacenterStatus } from './datacenter.ts';
import type { EndpointSpec, EndpointStatus } from './endpoint.ts';
import type { TenantSpec, TenantStatus } from './tenant.ts';

export interface CustomObject<Kind extends string, Spec, Status> {
  apiVersion: string;
  kind: Kind;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type Datacenter = CustomObject<'Datacenter', DatacenterSpec, DatacenterStatus>;
export type Tenant = CustomObject<'Tenant', TenantSpec, TenantStatus>;
export type BackupSpace = CustomObject<'BackupSpace', BackupSpaceSpec, BackupSpaceStatus>;
export type Endpoint = CustomObject<'Endpoint', EndpointSpec, EndpointStatus>;
export type Condition = NonNullable<TenantStatus['conditions']>[number];
