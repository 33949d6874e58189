import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../api/types.ts';
import { createCertificateAuthority } from '../pki/certificates.ts';
import { FLEET_METRICS, fleetSamples, registerFleetMetrics, type FleetView } from './fleet-metrics.ts';

const cond = (type: string, status: string, reason = type) => ({ type, status, reason, message: reason, lastTransitionTime: '2026-11-20T10:00:00Z' });

async function view(): Promise<FleetView> {
  const ca = await createCertificateAuthority('tenant-backup test CA', 30);
  const datacenters = [{ kind: 'Datacenter', metadata: { name: 'mil1' }, status: { conditions: [cond('Ready', 'True')] } }] as unknown as Datacenter[];
  const tenants = [
    { kind: 'Tenant', metadata: { name: 'acme' }, spec: { quotas: { storage: '1Ti' } }, status: { conditions: [cond('Ready', 'True')] } },
    { kind: 'Tenant', metadata: { name: 'bottega' }, spec: { quotas: { storage: '500Gi' } } },
  ] as unknown as Tenant[];
  const spaces = [
    { kind: 'BackupSpace', metadata: { name: 'vault', namespace: 'tenant-acme' }, spec: { size: '200Gi' }, status: { usedBytes: 1073741824, conditions: [cond('Ready', 'True', 'GatewayReady'), cond('Sealed', 'True', 'AwaitingCustomerPassword')] } },
    { kind: 'BackupSpace', metadata: { name: 'big', namespace: 'tenant-acme' }, spec: { size: '2Ti' }, status: { conditions: [cond('Ready', 'False', 'QuotaExceeded'), cond('Stalled', 'True', 'QuotaExceeded')] } },
    { kind: 'BackupSpace', metadata: { name: 'new', namespace: 'tenant-bottega' }, spec: { size: '10Gi' }, status: { conditions: [cond('Ready', 'False', 'GatewayStarting'), cond('Reconciling', 'True', 'GatewayStarting')] } },
  ] as unknown as BackupSpace[];
  const endpoints = [
    { kind: 'Endpoint', metadata: { name: 'laptop', namespace: 'tenant-acme' }, spec: { spaceRef: { name: 'vault' } }, status: { lastBackupTime: '2026-11-20T02:00:00Z', activation: 'Active', conditions: [cond('Ready', 'True'), cond('BackupOverdue', 'False', 'BackupOnTime')] } },
    { kind: 'Endpoint', metadata: { name: 'old-pc', namespace: 'tenant-acme' }, spec: { spaceRef: { name: 'vault' }, suspended: true }, status: { lastBackupTime: '2026-01-01T00:00:00Z', activation: 'Suspended', conditions: [cond('Ready', 'True', 'Suspended'), cond('BackupOverdue', 'True')] } },
    { kind: 'Endpoint', metadata: { name: 'new-pc', namespace: 'tenant-acme' }, spec: { spaceRef: { name: 'vault' }, expectedBackupInterval: '4m' }, status: { activation: 'Pending', conditions: [cond('Ready', 'True'), cond('BackupOverdue', 'True')] } },
    { kind: 'Endpoint', metadata: { name: 'unchecked', namespace: 'tenant-bottega' }, spec: { spaceRef: { name: 'new' } }, status: { activation: 'Pending', conditions: [cond('Ready', 'True')] } },
  ] as unknown as Endpoint[];
  const secrets: V1Secret[] = [
    { metadata: { name: 'vault-gateway-tls', namespace: 'tenant-acme' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(ca.certificate).toString('base64') } },
    { metadata: { name: 'laptop-credentials', namespace: 'tenant-acme' }, type: 'Opaque', data: { password: 'c2VjcmV0' } },
    { metadata: { name: 'broken-tls', namespace: 'tenant-acme' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from('not a certificate').toString('base64') } },
  ];
  return { datacenters: () => datacenters, tenants: () => tenants, spaces: () => spaces, endpoints: () => endpoints, secrets: () => secrets };
}

describe('fleet metrics', () => {
  it('count objects by kstatus state and name the stalled ones', async () => {
    const samples = fleetSamples(await view());
    const count = (kind: string, state: string) => samples.find((s) => s.metric === 'tenantbackup_objects' && s.labels.kind === kind && s.labels.state === state)?.value;
    expect([count('BackupSpace', 'ready'), count('BackupSpace', 'stalled'), count('BackupSpace', 'progressing'), count('Tenant', 'unknown'), count('Datacenter', 'ready')]).toEqual([1, 1, 1, 1, 1]);
    expect(samples.filter((s) => s.metric === 'tenantbackup_object_stalled')).toEqual([
      { metric: 'tenantbackup_object_stalled', labels: { kind: 'BackupSpace', object_namespace: 'tenant-acme', name: 'big', reason: 'QuotaExceeded' }, value: 1 },
    ]);
  });

  it('give quotas, sizes and usage in bytes, with each space\'s tenant', async () => {
    const samples = fleetSamples(await view());
    expect(samples.filter((s) => s.metric === 'tenantbackup_tenant_storage_quota_bytes').map((s) => [s.labels.tenant, s.value])).toEqual([['acme', 2 ** 40], ['bottega', 500 * 2 ** 30]]);
    expect(samples.filter((s) => s.metric === 'tenantbackup_space_size_bytes').map((s) => [s.labels.tenant, s.labels.space, s.value])).toEqual([['acme', 'vault', 200 * 2 ** 30], ['acme', 'big', 2 * 2 ** 40], ['bottega', 'new', 10 * 2 ** 30]]);
    expect(samples.filter((s) => s.metric === 'tenantbackup_space_used_bytes').map((s) => [s.labels.space, s.value])).toEqual([['vault', 2 ** 30]]);
    expect(samples.filter((s) => s.metric === 'tenantbackup_space_ready').map((s) => [s.labels.space, s.labels.reason, s.value])).toEqual([['vault', 'GatewayReady', 1], ['big', 'QuotaExceeded', 0], ['new', 'GatewayStarting', 0]]);
    expect(samples.filter((s) => s.metric === 'tenantbackup_space_sealed').map((s) => [s.labels.space, s.value])).toEqual([['vault', 1]]);
  });

  it('give the last backup of endpoints that are not suspended', async () => {
    const samples = fleetSamples(await view());
    expect(samples.filter((s) => s.metric === 'tenantbackup_endpoint_last_backup_timestamp_seconds')).toEqual([
      { metric: 'tenantbackup_endpoint_last_backup_timestamp_seconds', labels: { tenant: 'acme', endpoint: 'laptop', space: 'vault' }, value: Date.parse('2026-11-20T02:00:00Z') / 1000 },
    ]);
  });

  it('say which endpoints are overdue: those with a freshness check (a BackupOverdue condition) that are not suspended', async () => {
    const samples = fleetSamples(await view());
    expect(samples.filter((s) => s.metric === 'tenantbackup_endpoint_backup_overdue')).toEqual([
      { metric: 'tenantbackup_endpoint_backup_overdue', labels: { tenant: 'acme', endpoint: 'laptop', space: 'vault' }, value: 0 },
      { metric: 'tenantbackup_endpoint_backup_overdue', labels: { tenant: 'acme', endpoint: 'new-pc', space: 'vault' }, value: 1 },
    ]);
  });

  it('read certificate expiry from TLS Secrets only, skipping unreadable ones, and never a Secret\'s data', async () => {
    const v = await view();
    const samples = fleetSamples(v);
    const pem = Buffer.from(v.secrets()[0]!.data!['tls.crt']!, 'base64').toString('utf8');
    expect(samples.filter((s) => s.metric === 'tenantbackup_certificate_expiry_timestamp_seconds')).toEqual([
      { metric: 'tenantbackup_certificate_expiry_timestamp_seconds', labels: { secret_namespace: 'tenant-acme', secret: 'vault-gateway-tls' }, value: Date.parse(new X509Certificate(pem).validTo) / 1000 },
    ]);
    expect(JSON.stringify(samples)).not.toContain('c2VjcmV0');
  });

  it('are served by the registry in Prometheus text, recomputed at each scrape', async () => {
    const registry = new Registry();
    const v = await view();
    let spaces = v.spaces();
    registerFleetMetrics(registry, { ...v, spaces: () => spaces });
    const text = await registry.metrics();
    for (const name of Object.keys(FLEET_METRICS)) expect(text).toContain(`# TYPE ${name} gauge`);
    expect(text).toContain('tenantbackup_space_used_bytes{tenant="acme",space="vault"} 1073741824');
    spaces = [];
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await registry.metrics()).not.toContain('tenantbackup_space_used_bytes{');
  });
});
