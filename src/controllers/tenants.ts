import type { V1Namespace } from '@kubernetes/client-node';
import { tenantNameFromNamespace, tenantOfNamespace } from '../admission/rules.ts';
import type { Tenant } from '../api/types.ts';
import type { InformerFactory } from '../runtime/informer-factory.ts';
import type { Informer } from '../runtime/informer.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import type { KubeObject } from '../runtime/object.ts';
import { TENANT_NAMESPACE_SELECTOR } from './labels.ts';

export type TenantNamespace = V1Namespace & KubeObject;

/**
 * The Tenant a namespace is named for (tenant-<tenant name>), from the cache, whether or not the
 * namespace is still cached. For mapping events to a tenant to re-check and for the deletion guard,
 * which must still answer while a terminating tenant's namespace goes; never for deciding where to build.
 */
export function tenantNamedFor(tenants: Informer<Tenant>, namespace: string | undefined): Tenant | undefined {
  const name = namespace ? tenantNameFromNamespace(namespace) : undefined;
  return name ? tenants.get(name) : undefined;
}

/** The shared cache of the namespaces the tenant controller made (one watch for every controller). */
export function tenantNamespaces(informers: InformerFactory): Informer<TenantNamespace> {
  return informers.for<TenantNamespace>(K8S.Namespace, { labelSelector: TENANT_NAMESPACE_SELECTOR });
}

/**
 * The Tenant whose own namespace this is: the tenant controller made it and labelled it for that
 * tenant. For a namespace of the same name that is not the tenant's (the operator's own, when a
 * tenant is called `backup-system`, or anyone else's) there is none, so nothing is built in it.
 */
export function tenantOfOwnNamespace(tenants: Informer<Tenant>, namespaces: Informer<TenantNamespace>, namespace: string | undefined): Tenant | undefined {
  const cached = namespace ? namespaces.get(namespace) : undefined;
  const name = cached ? tenantOfNamespace(cached) : undefined;
  return name ? tenants.get(name) : undefined;
}
