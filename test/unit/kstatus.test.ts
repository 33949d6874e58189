/**
 * Every way a reconcile can end short of Ready must read as InProgress or Failed through kstatus, which
 * Flux and other GitOps tools use: kstatus ignores Ready, so a Ready=False without Reconciling or
 * Stalled would read Current. Checked on the controllers' pure status functions, each fed every
 * failure the controller can report, from no status and from a previous Ready status.
 */
import type { V1Deployment, V1Node, V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { BackupSpace, Datacenter, Endpoint, Tenant } from '../../src/api/types.ts';
import { spaceStatus, type SpaceObservation } from '../../src/controllers/backupspace/status.ts';
import { datacenterStatus, type DatacenterObservation } from '../../src/controllers/datacenter/status.ts';
import { endpointStatus } from '../../src/controllers/endpoint/controller.ts';
import { tenantStatus, type TenantObservation } from '../../src/controllers/tenant/status.ts';
import { failedStatus, type StatusWithConditions } from '../../src/runtime/failure-status.ts';
import type { GatewayReport } from '../../src/gateway/report-contract.ts';
import { kstatusOf, type KStatus } from '../support/kstatus.ts';

const now = new Date('2026-11-20T10:00:00Z');
const later = new Date('2026-11-20T11:00:00Z');

interface Case<O> { name: string; observation: O; expect: KStatus }

/** Runs each case on an object without status and on one whose previous status was the ready one. */
function check<T extends { metadata: { generation?: number }; status?: unknown }, O>(
  object: T,
  status: (obj: T, observation: O, at: Date) => T['status'],
  ready: O,
  cases: readonly Case<O>[],
): void {
  const readyStatus = status(object, ready, now);
  expect(kstatusOf({ ...object, status: readyStatus } as never), 'the ready observation').toBe('Current');
  // A reconcile that throws: the runtime's failed status reads InProgress, and the controller's next
  // ready status clears it.
  for (const [from, previous] of [['no status', undefined], ['Ready', readyStatus]] as const) {
    const failed = { ...object, status: failedStatus(previous as StatusWithConditions | undefined, new Error('boom'), object.metadata.generation, later) };
    expect(kstatusOf(failed as never), `a thrown error, from ${from}`).toBe('InProgress');
    expect(kstatusOf({ ...object, status: status(failed as T, ready, later) } as never), `a thrown error, from ${from}, then ready again`).toBe('Current');
  }
  for (const c of cases) {
    for (const [from, previous] of [['no status', undefined], ['Ready', readyStatus]] as const) {
      const before = { ...object, status: previous };
      const after = { ...object, status: status(before, c.observation, later) };
      expect(kstatusOf(after as never), `${c.name}, from ${from}`).toBe(c.expect);
      // …and back to ready: the failure's condition must go, or the object stays InProgress/Failed.
      expect(kstatusOf({ ...object, status: status(after, ready, later) } as never), `${c.name} then ready again`).toBe('Current');
    }
  }
}

describe('kstatus reads every reconcile outcome', () => {
  it('Datacenter', () => {
    const dc = { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Datacenter', metadata: { name: 'mil1', generation: 2 }, spec: { country: 'IT', nodeSelector: { matchLabels: { dc: 'mil1' } }, storage: { storageClassName: 'ssd' } } } as unknown as Datacenter;
    const node = (ready: boolean, country = 'IT'): V1Node => ({ metadata: { name: `n-${country}`, labels: { dc: 'mil1', 'tenantbackup.io/country': country } }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
    const ready: DatacenterObservation = { nodes: [node(true)], storageClassExists: true, spaces: [] };
    check(dc, datacenterStatus, ready, [
      { name: 'no matching node', observation: { ...ready, nodes: [] }, expect: 'Failed' },
      { name: 'no ready node', observation: { ...ready, nodes: [node(false)] }, expect: 'Failed' },
      { name: 'no StorageClass', observation: { ...ready, storageClassExists: false }, expect: 'Failed' },
      { name: 'nodes of another country', observation: { ...ready, nodes: [node(true), node(true, 'FR')] }, expect: 'Failed' },
    ]);
  });

  it('Tenant', () => {
    const tenant = { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Tenant', metadata: { name: 'acme', generation: 3 }, spec: { quotas: { storage: '1Ti', spaces: 3, endpoints: 25 }, contract: { state: 'Active' } } } as unknown as Tenant;
    const quota: V1ResourceQuota = { spec: { hard: { 'requests.storage': '1Ti' } }, status: { hard: { 'requests.storage': '1Ti' }, used: { 'requests.storage': '0' } } };
    const ready: TenantObservation = { namespaceReady: true, quota };
    check(tenant, tenantStatus, ready, [
      { name: 'namespace being created', observation: { namespaceReady: false }, expect: 'InProgress' },
      { name: 'quota not yet accounted', observation: { namespaceReady: true, quota: { spec: quota.spec } }, expect: 'InProgress' },
      { name: 'a broken rule', observation: { ...ready, problem: { state: 'stalled', reason: 'ResidencyViolation', message: 'spec.residency' } }, expect: 'Failed' },
      { name: 'waiting on a dependency', observation: { ...ready, problem: { state: 'progressing', reason: 'Waiting', message: 'waiting' } }, expect: 'InProgress' },
      { name: 'termination under way', observation: { ...ready, terminating: true, health: { state: 'progressing', reason: 'TerminationExporting', message: 'exporting' } }, expect: 'InProgress' },
      { name: 'termination stuck', observation: { ...ready, terminating: true, health: { state: 'stalled', reason: 'ExportTargetUnreachable', message: 'unreachable' } }, expect: 'Failed' },
    ]);
  });

  it('BackupSpace', () => {
    const space = { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'BackupSpace', metadata: { name: 'vault', namespace: 'tenant-acme', generation: 4 }, spec: { datacenter: 'mil1', size: '100Gi', replicas: 2 } } as unknown as BackupSpace;
    const gateway = (ready: number): V1Deployment => ({ metadata: { generation: 1 }, status: { observedGeneration: 1, readyReplicas: ready, updatedReplicas: 2 } });
    const report = (dataKeyState: string): GatewayReport => ({ space: { quotaBytes: 1, usedBytes: 0, objects: 0 }, gateway: { dataKeyState }, endpoints: [] }) as unknown as GatewayReport;
    const unschedulable: V1Pod = { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes' }] } };
    const ready: SpaceObservation = { keys: { keyId: 'k', custody: 'provider' }, gateway: gateway(2), pods: [], endpoints: 0, gatewayReport: report('ready') };
    const blocked = (state: 'stalled' | 'progressing', reason: string): SpaceObservation => ({ pods: [], endpoints: 0, blocked: { state, reason, message: reason } });
    check(space, spaceStatus, ready, [
      ...['QuotaExceeded', 'ResidencyViolation', 'KeyMissing', 'KeyUnreadable', 'KeyMismatch', 'DeletionRefused'].map((reason) => ({ name: `blocked: ${reason}`, observation: blocked('stalled', reason), expect: 'Failed' as const })),
      { name: 'blocked while waiting', observation: blocked('progressing', 'WaitingForTenant'), expect: 'InProgress' },
      { name: 'gateway starting', observation: { ...ready, gateway: gateway(1) }, expect: 'InProgress' },
      { name: 'gateway unschedulable', observation: { ...ready, gateway: gateway(0), pods: [unschedulable] }, expect: 'InProgress' },
      { name: 'gateway reports its key missing', observation: { ...ready, gatewayReport: report('key-missing') }, expect: 'Failed' },
      { name: 'gateway reports a key mismatch', observation: { ...ready, gatewayReport: report('key-mismatch') }, expect: 'Failed' },
      // A Manual policy holding an upgrade back is a choice, not progress or a fault.
      { name: 'upgrade held back', observation: { ...ready, upToDate: { type: 'UpToDate', status: 'False', reason: 'UpgradeAvailable', message: 'held' } }, expect: 'Current' },
    ]);
  });

  it('Endpoint', () => {
    const endpoint = { apiVersion: 'tenantbackup.io/v1alpha1', kind: 'Endpoint', metadata: { name: 'laptop', namespace: 'tenant-acme', generation: 5 }, spec: { spaceRef: { name: 'vault' } } } as unknown as Endpoint;
    const readySpace = { metadata: { name: 'vault', namespace: 'tenant-acme' }, spec: { datacenter: 'mil1' }, status: { address: '203.0.113.1', conditions: [{ type: 'Ready', status: 'True' }] } } as unknown as BackupSpace;
    const tenant = { metadata: { name: 'acme' }, spec: { contract: { state: 'Active' } } } as unknown as Tenant;
    interface Seen { endpoint?: Endpoint; space?: BackupSpace; tenant?: Tenant; secret?: string }
    const status = (e: Endpoint, seen: Seen, at: Date) => endpointStatus({ ...(seen.endpoint ?? e), status: e.status }, seen.space, seen.tenant, seen.secret, at);
    const ready: Seen = { space: readySpace, tenant, secret: 'laptop-credentials' };
    const overdue = { ...endpoint, metadata: { ...endpoint.metadata, creationTimestamp: '2026-11-20T09:00:00Z' }, spec: { ...endpoint.spec, expectedBackupInterval: '4m' } } as unknown as Endpoint;
    check(endpoint, status, ready, [
      { name: 'space in another namespace', observation: { ...ready, endpoint: { ...endpoint, spec: { spaceRef: { name: 'vault', namespace: 'other' } } } as Endpoint }, expect: 'Failed' },
      { name: 'namespace of no tenant', observation: { ...ready, tenant: undefined }, expect: 'Failed' },
      { name: 'space not found', observation: { ...ready, space: undefined }, expect: 'Failed' },
      { name: 'credentials being issued', observation: { ...ready, secret: undefined }, expect: 'InProgress' },
      { name: 'space not ready', observation: { ...ready, space: { ...readySpace, status: { conditions: [{ type: 'Ready', status: 'False' }] } } as unknown as BackupSpace }, expect: 'InProgress' },
      // Informational: a device late with its backups leaves the endpoint Current, neither InProgress nor Failed.
      { name: 'backup overdue', observation: { ...ready, endpoint: overdue }, expect: 'Current' },
    ]);
    expect(status(overdue, ready, later)?.conditions?.find((c) => c.type === 'BackupOverdue')).toMatchObject({ status: 'True', reason: 'BackupOverdue' });
  });

  it('an object whose status was never written reads Current: why the Flux expressions require Ready', () => {
    expect(kstatusOf({ metadata: { generation: 1 } })).toBe('Current');
    expect(kstatusOf({ metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'False' }] } })).toBe('Current');
    expect(kstatusOf({ metadata: { generation: 2 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }] } })).toBe('InProgress');
  });
});
