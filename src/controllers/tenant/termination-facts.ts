/**
 * What the termination state machine needs to know about the cluster, read at the edge: which spaces
 * exist, whether access is really revoked (as the gateways are configured, not as we asked), which
 * key material is still there, and what of the tenant is left. Reads what decides a destruction from
 * the API server, not from a cache that may lag.
 */
import type { V1Namespace, V1Secret } from '@kubernetes/client-node';
import type { BackupSpace, Endpoint, Tenant } from '../../api/types.ts';
import type { GatewayAccessConfig } from '../../gateway/access-config.ts';
import { getObject } from '../../runtime/apply.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { listAll } from '../../runtime/kube/list.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { SECRET_TYPE_LABEL, spaceObjectNames, TENANT_LABEL, tenantNamespaceName } from '../labels.ts';
import { GATEWAY_INGRESS_POLICY } from './desired.ts';
import { phaseAtLeast, type ObservedSpace, type TerminationFacts, type TerminationRecord } from './termination.ts';

/** Secrets that hold key material of a space: the crypto-shred destroys every one of them first. */
export const KEY_MATERIAL_TYPES = ['space-key', 'gateway-config', 'volume-encryption'] as const;

export interface FactSources {
  client: KubeClient;
  spaces: Informer<BackupSpace>;
  endpoints: Informer<Endpoint>;
  policies: Informer<KubeObject> | undefined;
}

export function observedSpace(space: BackupSpace): ObservedSpace {
  return {
    name: space.metadata.name ?? '',
    namespace: space.metadata.namespace ?? '',
    uid: space.metadata.uid ?? '',
    datacenter: space.spec.datacenter,
    ...(space.status?.keyId ? { keyId: space.status.keyId } : {}),
  };
}

/** Pure: a gateway configured this way lets no endpoint and no person in. */
export function configRefusesAll(access: GatewayAccessConfig): boolean {
  return access.endpoints.every((e) => !e.enabled) && access.humans.users.length === 0;
}

/** The spaces whose gateways still let someone in (by their access configuration as rendered). */
async function spacesStillOpen(client: KubeClient, spaces: ObservedSpace[]): Promise<string[]> {
  const open: string[] = [];
  for (const space of spaces) {
    const config = await getObject<V1Secret>(client, K8S.Secret, spaceObjectNames(space.name).configSecret, space.namespace);
    const text = secretField(config, 'access.json');
    if (text === undefined) continue;
    let access: GatewayAccessConfig;
    try {
      access = JSON.parse(text) as GatewayAccessConfig;
    } catch {
      open.push(space.name);
      continue;
    }
    if (!configRefusesAll(access)) open.push(space.name);
  }
  return open;
}

export async function observeTermination(sources: FactSources, tenant: Tenant, record: TerminationRecord, now: Date): Promise<TerminationFacts & { openSpaces: string[] }> {
  const namespace = tenantNamespaceName(tenant);
  const spaces = sources.spaces.inNamespace(namespace).map(observedSpace);
  const ingressOpen = Boolean(sources.policies?.get(`${namespace}/${GATEWAY_INGRESS_POLICY}`));
  // Access matters until the keys are gone; after that there is nothing left to reach.
  const openSpaces = phaseAtLeast(record.phase, 'Shredding') ? [] : await spacesStillOpen(sources.client, spaces);
  let keyMaterial: string[] = [];
  let remaining: string[] = [];
  if (phaseAtLeast(record.phase, 'Shredding') && record.phase !== 'Done') {
    const secrets = await listAll<V1Secret & KubeObject>(sources.client, K8S.Secret, { namespace, labelSelector: `${SECRET_TYPE_LABEL} in (${KEY_MATERIAL_TYPES.join(',')})` });
    keyMaterial = secrets.items.map((s) => `Secret/${namespace}/${s.metadata.name}`);
  }
  if (record.phase === 'Deleting') {
    const ns = await getObject<V1Namespace & KubeObject>(sources.client, K8S.Namespace, namespace);
    remaining = [
      ...spaces.map((s) => `BackupSpace/${namespace}/${s.name}`),
      ...sources.endpoints.inNamespace(namespace).map((e) => `Endpoint/${namespace}/${e.metadata.name}`),
      ...(ns && ns.metadata.labels?.[TENANT_LABEL] === tenant.metadata.name ? [`Namespace/${namespace}`] : []),
    ];
  }
  return { now, spaces, accessRevoked: !ingressOpen && openSpaces.length === 0, keyMaterial, remaining, openSpaces };
}
