/**
 * AdmissionLookups over the operator's shared informer caches: the webhook reads what the controllers
 * already watch, so answering a request costs no API call. Every replica runs these caches, so every
 * replica can serve the webhook. liveSpaces is the exception, for the rare request a lagging cache
 * must not decide (a datacenter's deletion).
 */
import type { V1Namespace } from '@kubernetes/client-node';
import { API } from '../api/refs.ts';
import type { BackupSpace, Datacenter, Tenant } from '../api/types.ts';
import { tenantOfNamespace } from '../admission/rules.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../controllers/labels.ts';
import type { InformerFactory } from '../runtime/informer-factory.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { collectionPath, K8S } from '../runtime/kube/resource-ref.ts';
import type { KubeObject } from '../runtime/object.ts';
import type { AdmissionLookups } from './validators.ts';

/** Only namespaces the operator made for a tenant: a look-alike made by hand lends no tenant's rights. */
const TENANT_NAMESPACES = `${MANAGED_BY_LABEL}=${MANAGED_BY},${TENANT_LABEL}`;

export function informerLookups(informers: InformerFactory): AdmissionLookups {
  const tenants = informers.for<Tenant>(API.Tenant);
  const datacenters = informers.for<Datacenter>(API.Datacenter);
  const spaces = informers.for<BackupSpace>(API.BackupSpace);
  const namespaces = informers.for<V1Namespace & KubeObject>(K8S.Namespace, { labelSelector: TENANT_NAMESPACES });
  const all = [tenants, datacenters, spaces, namespaces];
  return {
    synced: () => all.every((informer) => informer.hasSynced()),
    tenant: (name) => tenants.get(name),
    tenantOfNamespace: (namespace) => {
      const cached = namespaces.get(namespace);
      return cached ? tenantOfNamespace(cached) : undefined;
    },
    datacenter: (name) => datacenters.get(name),
    datacenters: () => datacenters.list(),
    spacesIn: (namespace) => spaces.list((s) => s.metadata.namespace === namespace),
    spaces: () => spaces.list(),
  };
}

interface SpaceList {
  items: BackupSpace[];
  metadata: { continue?: string };
}

/** Every BackupSpace in the cluster, read from the API server (a quorum read, page by page). */
export function liveSpaces(client: KubeClient): () => Promise<BackupSpace[]> {
  return async () => {
    const spaces: BackupSpace[] = [];
    let continueToken: string | undefined;
    do {
      const page = await client.request<SpaceList>({ method: 'GET', path: collectionPath(API.BackupSpace), query: { limit: 500, continue: continueToken } });
      spaces.push(...page.items);
      continueToken = page.metadata.continue || undefined;
    } while (continueToken);
    return spaces;
  };
}
