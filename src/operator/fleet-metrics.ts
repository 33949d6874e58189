/**
 * Metrics of the fleet the operator looks after, computed at each scrape from its informer caches
 * (no API call, nothing kept aside): what the dashboard and the alert rules need and neither
 * controller-runtime's metrics nor the gateways (whose /metrics wants each space's report token)
 * give a Prometheus: objects by kstatus state and the stalled ones by name, usage against quotas,
 * last backups and overdue endpoints, sealed and unready spaces, expiry of the certificates the operator issued.
 * Every replica keeps the caches, so a standby exports the same figures (rules take max()).
 * No label is called namespace, job, pod or instance: Prometheus sets those on every scraped series
 * and would rename ours to exported_*. A space or endpoint is named by its tenant (one namespace
 * each) and its name.
 */
import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import { parseQuantity } from '../admission/quantity.ts';
import type { BackupSpace, Condition, Datacenter, Endpoint, Tenant } from '../api/types.ts';
import { API } from '../api/refs.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, tenantNamespaceName } from '../controllers/labels.ts';
import { findCondition } from '../runtime/conditions.ts';
import type { InformerFactory } from '../runtime/informer-factory.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import { secretField } from '../runtime/kube/secrets.ts';
import type { KubeObject } from '../runtime/object.ts';

export interface FleetView {
  datacenters(): readonly Datacenter[];
  tenants(): readonly Tenant[];
  spaces(): readonly BackupSpace[];
  endpoints(): readonly Endpoint[];
  /** Secrets the operator wrote; those of type kubernetes.io/tls are read for their expiry. */
  secrets(): readonly V1Secret[];
}

/**
 * The view from the operator's shared informers. The Secrets informer is the one the controllers
 * already keep (same selector, so no second watch); it holds the webhook's and the CA's Secrets too.
 */
export function informerFleetView(informers: InformerFactory): FleetView {
  const datacenters = informers.for<Datacenter>(API.Datacenter);
  const tenants = informers.for<Tenant>(API.Tenant);
  const spaces = informers.for<BackupSpace>(API.BackupSpace);
  const endpoints = informers.for<Endpoint>(API.Endpoint);
  const secrets = informers.for<V1Secret & KubeObject>(K8S.Secret, { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` });
  return {
    datacenters: () => datacenters.list(),
    tenants: () => tenants.list(),
    spaces: () => spaces.list(),
    endpoints: () => endpoints.list(),
    secrets: () => secrets.list(),
  };
}

type Labels = Record<string, string>;

export interface FleetSample {
  metric: keyof typeof FLEET_METRICS;
  labels: Labels;
  value: number;
}

/** Names, help and labels; exported so tests can tell what the operator registers. */
export const FLEET_METRICS = {
  tenantbackup_objects: { help: 'tenantbackup.io objects by kind and kstatus state (ready, progressing, stalled, unknown: no Ready condition yet)', labels: ['kind', 'state'] },
  tenantbackup_object_stalled: { help: '1 for each object whose Stalled condition is True, by kind, namespace (object_namespace, empty for cluster-scoped kinds), name and reason', labels: ['kind', 'object_namespace', 'name', 'reason'] },
  tenantbackup_tenant_storage_quota_bytes: { help: 'Storage quota of each tenant (spec.quotas.storage)', labels: ['tenant'] },
  tenantbackup_space_size_bytes: { help: 'Size of each BackupSpace (spec.size), which counts against its tenant\'s storage quota', labels: ['tenant', 'space'] },
  tenantbackup_space_used_bytes: { help: 'Bytes stored in each BackupSpace, as its gateway last reported (status.usedBytes)', labels: ['tenant', 'space'] },
  tenantbackup_space_ready: { help: '1 when the BackupSpace is Ready (its gateways serve), else 0; reason from the Ready condition', labels: ['tenant', 'space', 'reason'] },
  tenantbackup_space_sealed: { help: '1 when gateway replicas of the BackupSpace hold no data key (customer custody, waiting for the password)', labels: ['tenant', 'space'] },
  tenantbackup_endpoint_last_backup_timestamp_seconds: { help: 'End of the last successful backup of each endpoint that is not suspended (status.lastBackupTime)', labels: ['tenant', 'endpoint', 'space'] },
  tenantbackup_endpoint_backup_overdue: { help: '1 when the endpoint has not backed up within its expected interval (its BackupOverdue condition is True), 0 when on time; only endpoints with an expected interval (spec.expectedBackupInterval or the tenant plan\'s) that are not suspended', labels: ['tenant', 'endpoint', 'space'] },
  tenantbackup_certificate_expiry_timestamp_seconds: { help: 'When the certificate in each kubernetes.io/tls Secret the operator issued expires', labels: ['secret_namespace', 'secret'] },
} as const;

type Kinded = { kind: string; metadata: { name?: string; namespace?: string; generation?: number }; status?: { conditions?: Condition[] } };

function state(object: Kinded): 'ready' | 'progressing' | 'stalled' | 'unknown' {
  const conditions = object.status?.conditions;
  if (findCondition(conditions, 'Stalled')?.status === 'True') return 'stalled';
  const ready = findCondition(conditions, 'Ready');
  if (!ready) return 'unknown';
  return ready.status === 'True' ? 'ready' : 'progressing';
}

function bytes(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  try {
    return Number(parseQuantity(quantity));
  } catch {
    return undefined; // refused at admission; the object reports it as Stalled
  }
}

function certificateExpiry(secret: V1Secret): number | undefined {
  const pem = secretField(secret, 'tls.crt');
  if (!pem) return undefined;
  try {
    return Date.parse(new X509Certificate(pem).validTo) / 1000;
  } catch {
    return undefined;
  }
}

/** The samples of one scrape: a pure function of the cached objects. */
export function fleetSamples(view: FleetView): FleetSample[] {
  const samples: FleetSample[] = [];
  const tenantOf = new Map(view.tenants().map((t) => [tenantNamespaceName(t), t.metadata.name ?? '']));
  const kinds: [string, readonly Kinded[]][] = [
    ['Datacenter', view.datacenters() as readonly Kinded[]],
    ['Tenant', view.tenants() as readonly Kinded[]],
    ['BackupSpace', view.spaces() as readonly Kinded[]],
    ['Endpoint', view.endpoints() as readonly Kinded[]],
  ];
  for (const [kind, objects] of kinds) {
    const counts = { ready: 0, progressing: 0, stalled: 0, unknown: 0 };
    for (const object of objects) {
      const s = state(object);
      counts[s] += 1;
      if (s === 'stalled') {
        const reason = findCondition(object.status?.conditions, 'Stalled')?.reason ?? '';
        samples.push({ metric: 'tenantbackup_object_stalled', labels: { kind, object_namespace: object.metadata.namespace ?? '', name: object.metadata.name ?? '', reason }, value: 1 });
      }
    }
    for (const [s, n] of Object.entries(counts)) samples.push({ metric: 'tenantbackup_objects', labels: { kind, state: s }, value: n });
  }
  for (const tenant of view.tenants()) {
    const quota = bytes(tenant.spec.quotas?.storage);
    if (quota !== undefined) samples.push({ metric: 'tenantbackup_tenant_storage_quota_bytes', labels: { tenant: tenant.metadata.name ?? '' }, value: quota });
  }
  for (const space of view.spaces()) {
    const namespace = space.metadata.namespace ?? '';
    const labels = { tenant: tenantOf.get(namespace) ?? '', space: space.metadata.name ?? '' };
    const size = bytes(space.spec.size);
    if (size !== undefined) samples.push({ metric: 'tenantbackup_space_size_bytes', labels, value: size });
    if (space.status?.usedBytes !== undefined) samples.push({ metric: 'tenantbackup_space_used_bytes', labels, value: space.status.usedBytes });
    const ready = findCondition(space.status?.conditions, 'Ready');
    samples.push({ metric: 'tenantbackup_space_ready', labels: { ...labels, reason: ready?.reason ?? 'NotReconciled' }, value: ready?.status === 'True' ? 1 : 0 });
    const sealed = findCondition(space.status?.conditions, 'Sealed');
    if (sealed) samples.push({ metric: 'tenantbackup_space_sealed', labels, value: sealed.status === 'True' ? 1 : 0 });
  }
  for (const endpoint of view.endpoints()) {
    const namespace = endpoint.metadata.namespace ?? '';
    const labels = { tenant: tenantOf.get(namespace) ?? '', endpoint: endpoint.metadata.name ?? '', space: endpoint.spec.spaceRef.name };
    // The controller sets BackupOverdue only where a freshness check applies, and requeues the
    // endpoint at the moment it turns overdue: the condition is as current as a clock would be.
    const overdue = findCondition(endpoint.status?.conditions, 'BackupOverdue');
    if (overdue && endpoint.status?.activation !== 'Suspended') samples.push({ metric: 'tenantbackup_endpoint_backup_overdue', labels, value: overdue.status === 'True' ? 1 : 0 });
    const last = endpoint.status?.lastBackupTime;
    if (!last || endpoint.status?.activation === 'Suspended') continue;
    samples.push({ metric: 'tenantbackup_endpoint_last_backup_timestamp_seconds', labels, value: Date.parse(last) / 1000 });
  }
  for (const secret of view.secrets()) {
    if (secret.type !== 'kubernetes.io/tls') continue;
    const expiry = certificateExpiry(secret);
    if (expiry !== undefined) samples.push({ metric: 'tenantbackup_certificate_expiry_timestamp_seconds', labels: { secret_namespace: secret.metadata?.namespace ?? '', secret: secret.metadata?.name ?? '' }, value: expiry });
  }
  return samples;
}

/** Registers the fleet gauges; each scrape recomputes them from the view (series of deleted objects vanish). */
export function registerFleetMetrics(registry: Registry, view: FleetView): void {
  let scrape: { at: number; samples: FleetSample[] } | undefined;
  // One computation per scrape, shared by the gauges (a scrape collects them one after another).
  const current = (): FleetSample[] => {
    const now = Date.now();
    if (!scrape || now - scrape.at > 1000) scrape = { at: now, samples: fleetSamples(view) };
    return scrape.samples;
  };
  for (const [name, { help, labels }] of Object.entries(FLEET_METRICS)) {
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      collect() {
        this.reset();
        for (const sample of current()) if (sample.metric === name) this.set(sample.labels, sample.value);
      },
    });
  }
}
