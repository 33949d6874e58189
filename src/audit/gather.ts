/**
 * Reads an audit's facts from the API server: the pods as the scheduler bound them, the nodes'
 * country labels, the key and rendered gateway configuration Secrets, the NetworkPolicies and
 * ResourceQuota in force, endpoints' reported agents, and the termination record. Only identifiers
 * leave this module (key ids, names, flags): no secret value is ever put into the facts.
 */
import type { V1ConfigMap, V1NetworkPolicy, V1Node, V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import { API } from '../api/refs.ts';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../api/types.ts';
import type { Secret } from '../controllers/backupspace/keys.ts';
import { COMPONENT_LABEL, COUNTRY_LABEL, GATEWAY_COMPONENT, INSTANCE_LABEL, SECRET_TYPE_LABEL, spaceObjectNames, tenantNamespaceName, USER_LABEL } from '../controllers/labels.ts';
import { contractState, desiredNetworkPolicies, desiredQuota, type TenantSettings } from '../controllers/tenant/desired.ts';
import { TLS_MIN_VERSION } from '../pki/tls-policy.ts';
import { getObject } from '../runtime/apply.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { listAll } from '../runtime/kube/list.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import { secretField } from '../runtime/kube/secrets.ts';
import type { KubeObject } from '../runtime/object.ts';
import type { AuditFacts, SpaceFact } from './facts.ts';

type Listed<T> = T & KubeObject;

/**
 * Where an audit reads nodes and Datacenters, which every tenant shares: the controller reads its
 * informers' caches (one watch for the fleet); a one-off audit reads the API server, listing the nodes
 * once per audit rather than once per gateway.
 */
export interface ClusterLookups {
  nodeCountry(name: string): Promise<string | undefined>;
  datacenter(name: string): Promise<Datacenter | undefined>;
}

export function liveLookups(client: KubeClient): ClusterLookups {
  let nodes: Promise<Map<string, Listed<V1Node>>> | undefined;
  return {
    nodeCountry: async (name) => {
      nodes ??= listAll<Listed<V1Node>>(client, K8S.Node).then((list) => new Map(list.items.map((n) => [n.metadata.name ?? '', n])));
      return (await nodes).get(name)?.metadata.labels?.[COUNTRY_LABEL];
    },
    datacenter: (name) => getObject<Datacenter>(client, API.Datacenter, name),
  };
}

/** The parts of access.json the audit reads; a document that does not parse counts as absent. */
function renderedOf(secret: Secret | undefined): SpaceFact['rendered'] {
  const text = secretField(secret, 'access.json');
  if (!text) return undefined;
  try {
    const doc = JSON.parse(text) as {
      space?: { encryptAtRest?: boolean; keyCustody?: { mode?: string; keyId?: string } };
      humans?: { policy?: string; users?: { name?: string; totpSecret?: string }[] };
    };
    return {
      encryptAtRest: doc.space?.encryptAtRest === true,
      keyCustody: doc.space?.keyCustody?.mode ?? '',
      ...(doc.space?.keyCustody?.keyId ? { keyId: doc.space.keyCustody.keyId } : {}),
      twoFactorPolicy: doc.humans?.policy ?? '',
      users: (doc.humans?.users ?? []).map((u) => ({ name: u.name ?? '', totp: Boolean(u.totpSecret) })),
    };
  } catch {
    return undefined;
  }
}

function promiseOf(tenant: Tenant): AuditFacts['tenant'] {
  return {
    name: tenant.metadata.name ?? '',
    uid: tenant.metadata.uid ?? '',
    namespace: tenantNamespaceName(tenant),
    ...(tenant.spec.residency.countries ? { countries: [...tenant.spec.residency.countries] } : {}),
    ...(tenant.spec.residency.datacenters ? { datacenters: [...tenant.spec.residency.datacenters] } : {}),
    twoFactor: tenant.spec.security?.twoFactor ?? 'Optional',
    keyCustody: tenant.spec.security?.keyCustody ?? 'provider',
    users: (tenant.spec.users ?? []).map((u) => u.name),
    contractState: contractState(tenant),
  };
}

export async function gatherFacts(client: KubeClient, tenant: Tenant, settings: TenantSettings, now: Date, lookups: ClusterLookups = liveLookups(client)): Promise<AuditFacts> {
  const namespace = tenantNamespaceName(tenant);
  const promise = promiseOf(tenant);
  const required = {
    networkPolicies: desiredNetworkPolicies(tenant, settings, now).map((p) => ({ name: p.metadata.name ?? '', spec: p['spec'] })),
    quota: desiredQuota(tenant),
  };
  const requiredQuota = { name: required.quota.metadata.name ?? '', hard: (required.quota['spec'] as { hard: Record<string, string> }).hard };
  const termination = await terminationOf(client, tenant, settings);
  const base = { collectedAt: now.toISOString(), tenant: promise, requiredNetworkPolicies: required.networkPolicies, requiredQuota, ...(termination ? { termination } : {}) };
  if (!(await getObject(client, K8S.Namespace, namespace))) {
    return { ...base, namespacePresent: false, nodes: [], gatewayPods: [], spaces: [], enrolledUsers: [], networkPolicies: [], endpoints: [] };
  }
  const [pods, spaces, endpoints, secrets, policies, quotas] = await Promise.all([
    listAll<Listed<V1Pod>>(client, K8S.Pod, { namespace, labelSelector: `${COMPONENT_LABEL}=${GATEWAY_COMPONENT}` }),
    listAll<BackupSpace>(client, API.BackupSpace, { namespace }),
    listAll<Endpoint>(client, API.Endpoint, { namespace }),
    listAll<Secret>(client, K8S.Secret, { namespace }),
    listAll<Listed<V1NetworkPolicy>>(client, K8S.NetworkPolicy, { namespace }),
    // Lists, not gets: the operator's RBAC watches these and needs no get on them.
    listAll<Listed<V1ResourceQuota>>(client, K8S.ResourceQuota, { namespace }),
  ]);
  const quota = quotas.items.find((q) => q.metadata.name === requiredQuota.name);
  const secretByName = new Map(secrets.items.map((s) => [s.metadata.name ?? '', s]));
  const gatewayPods = pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({
    name: p.metadata.name ?? '',
    space: p.metadata.labels?.[INSTANCE_LABEL] ?? '',
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
  }));
  const nodeNames = [...new Set(gatewayPods.flatMap((p) => (p.nodeName ? [p.nodeName] : [])))];
  const nodes = await Promise.all(nodeNames.map(async (name) => {
    const country = await lookups.nodeCountry(name);
    return { name, ...(country ? { country } : {}) };
  }));
  const datacenters = new Map<string, Datacenter | undefined>();
  for (const dc of new Set(spaces.items.flatMap((s) => (s.status?.datacenter ? [s.status.datacenter] : [])))) datacenters.set(dc, await lookups.datacenter(dc));
  const spaceFacts = spaces.items.map((space): SpaceFact => {
    const names = spaceObjectNames(space.metadata.name ?? '');
    const key = secretByName.get(names.keySecret);
    const dc = space.status?.datacenter;
    const country = dc ? datacenters.get(dc)?.spec.country : undefined;
    const rendered = renderedOf(secretByName.get(names.configSecret));
    return {
      name: space.metadata.name ?? '',
      ...(space.metadata.uid ? { uid: space.metadata.uid } : {}),
      ...(dc ? { datacenter: dc } : {}),
      ...(country ? { datacenterCountry: country } : {}),
      ...(key ? { keySecret: { ...optional('custody', secretField(key, 'custody')), ...optional('keyId', secretField(key, 'keyId')) } } : {}),
      ...(rendered ? { rendered } : {}),
      // The gateway serves the TLS policy of the image it runs, the operator's own (pki/tls-policy.ts).
      tls: { minVersion: TLS_MIN_VERSION, certificateSecret: secretByName.has(space.spec.access?.tlsSecretName ?? names.tlsSecret) },
    };
  });
  const enrolledUsers = secrets.items
    .filter((s) => s.metadata.labels?.[SECRET_TYPE_LABEL] === 'two-factor-enrolment' && secretField(s, 'totpSecret'))
    .map((s) => s.metadata.labels?.[USER_LABEL] ?? '')
    .sort();
  // Each space's peers policy is the BackupSpace controller's (built with the key service's address,
  // which only the operator knows): required by name here, its content not compared.
  const peerPolicies = spaces.items.map((sp) => ({ name: spaceObjectNames(sp.metadata.name ?? '').peersService, spec: {} }));
  return {
    ...base,
    requiredNetworkPolicies: [...base.requiredNetworkPolicies, ...peerPolicies],
    namespacePresent: true,
    nodes,
    gatewayPods: gatewayPods.sort((a, b) => a.name.localeCompare(b.name)),
    spaces: spaceFacts,
    enrolledUsers,
    networkPolicies: policies.items.map((p) => ({ name: p.metadata.name ?? '', spec: p.spec })).sort((a, b) => a.name.localeCompare(b.name)),
    ...(quota ? { resourceQuota: { name: quota.metadata.name ?? '', hard: { ...quota.spec?.hard } } } : {}),
    endpoints: endpoints.items.map((e) => ({
      name: e.metadata.name ?? '',
      ...(e.status?.agentVersion ? { agentVersion: e.status.agentVersion } : {}),
      ...(e.status?.agentOutdated !== undefined ? { agentOutdated: e.status.agentOutdated } : {}),
    })).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, string>>);
}

async function terminationOf(client: KubeClient, tenant: Tenant, settings: TenantSettings): Promise<AuditFacts['termination']> {
  const t = tenant.status?.termination;
  if (!t) return undefined;
  const record = t.record ? await getObject<V1ConfigMap>(client, K8S.ConfigMap, t.record, settings.operatorNamespace) : undefined;
  return {
    phase: t.phase,
    ...(t.record ? { record: t.record } : {}),
    recordPresent: record !== undefined,
    ...(t.exportVerified !== undefined ? { exportVerified: t.exportVerified } : {}),
    ...(t.exportWaived !== undefined ? { exportWaived: t.exportWaived } : {}),
  };
}
