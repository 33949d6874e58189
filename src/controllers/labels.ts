/** Labels, names and ports the controllers agree on. */
import type { Tenant } from '../api/types.ts';

export const OPERATOR_NAME = 'tenant-backup-operator';
export const MANAGED_BY = OPERATOR_NAME;

export const NAME_LABEL = 'app.kubernetes.io/name';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const TENANT_LABEL = 'tenantbackup.io/tenant';
export const SPACE_LABEL = 'tenantbackup.io/space';
export const ENDPOINT_LABEL = 'tenantbackup.io/endpoint';
export const CONTRACT_LABEL = 'tenantbackup.io/contract';

export const GATEWAY_COMPONENT = 'gateway';
export const GATEWAY_PORT = 8443;

export const TENANT_NAMESPACE_PREFIX = 'tenant-';

export function tenantNamespaceName(tenant: Pick<Tenant, 'metadata'> | string): string {
  const name = typeof tenant === 'string' ? tenant : tenant.metadata.name ?? '';
  return `${TENANT_NAMESPACE_PREFIX}${name}`;
}
