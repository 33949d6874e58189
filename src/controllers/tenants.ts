import { tenantNameFromNamespace } from '../admission/rules.ts';
import type { Tenant } from '../api/types.ts';
import type { Informer } from '../runtime/informer.ts';

/** The Tenant a namespace belongs to (namespaces are named tenant-<tenant name>), from the cache. */
export function tenantOwning(tenants: Informer<Tenant>, namespace: string | undefined): Tenant | undefined {
  const name = namespace ? tenantNameFromNamespace(namespace) : undefined;
  return name ? tenants.get(name) : undefined;
}
