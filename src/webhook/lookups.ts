/**
 * AdmissionLookups over the operator's shared informer caches: the webhook reads what the controllers
 * already watch, so answering a request costs no API call. Every replica runs these caches, so every
 * replica can serve the webhook. liveSpaces is the exception, for the rare request a lagging cache
 * must not decide (a datacenter's deletion or edit).
 */
import type { V1Namespace, V1Node } from '@kubernetes/client-node';
import { API } from '../api/refs.ts';
import type { BackupSpace, Datacenter, Tenant } from '../api/types.ts';
import { tenantOfNamespace } from '../admission/rules.ts';
import { tenantNamespaces } from '../controllers/tenants.ts';
import type { InformerFactory } from '../runtime/informer-factory.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { listAll } from '../runtime/kube/list.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import type { KubeObject } from '../runtime/object.ts';
import type { AdmissionLookups } from './validators.ts';

export function informerLookups(informers: InformerFactory, reserved: readonly string[] = []): AdmissionLookups {
  const tenants = informers.for<Tenant>(API.Tenant);
  const datacenters = informers.for<Datacenter>(API.Datacenter);
  const spaces = informers.for<BackupSpace>(API.BackupSpace);
  const namespaces = tenantNamespaces(informers);
  // Every namespace, labelled or not, for the one question the labelled cache cannot answer: is a
  // new tenant's namespace name already someone else's? (Namespaces are few and small.)
  const allNamespaces = informers.for<V1Namespace & KubeObject>(K8S.Namespace);
  // The Datacenter controller's node cache, for what an edited datacenter's selector would match.
  const nodes = informers.for<V1Node & KubeObject>(K8S.Node);
  const all = [tenants, datacenters, spaces, namespaces, allNamespaces, nodes];
  return {
    synced: () => all.every((informer) => informer.hasSynced()),
    tenant: (name) => tenants.get(name),
    tenantOfNamespace: (namespace) => {
      const cached = namespaces.get(namespace);
      return cached ? tenantOfNamespace(cached) : undefined;
    },
    datacenter: (name) => datacenters.get(name),
    datacenters: () => datacenters.list(),
    spacesIn: (namespace) => spaces.inNamespace(namespace),
    spaces: () => spaces.list(),
    namespace: (name) => allNamespaces.get(name),
    reservedNamespaces: () => reserved,
    nodes: () => nodes.list(),
  };
}

/** Every BackupSpace in the cluster, read from the API server (a quorum read, page by page). */
export function liveSpaces(client: KubeClient): () => Promise<BackupSpace[]> {
  return async () => (await listAll<BackupSpace>(client, API.BackupSpace)).items;
}
