import type { Tenant } from '../api/types.ts';
import type { Informer } from '../runtime/informer.ts';
import { TENANT_NAMESPACE_PREFIX } from './labels.ts';

/** The Tenant a namespace belongs to (namespaces are named tenant-<tenant name>). */
export function tenantOfNamespace(tenants: Informer<Tenant>, namespace: string | undefined): Tenant | undefined {
  if (!namespace?.startsWith(TENANT_NAMESPACE_PREFIX)) return undefined;
  return tenants.get(namespace.slice(TENANT_NAMESPACE_PREFIX.length));
}
