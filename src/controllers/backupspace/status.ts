/** A BackupSpace's status as a pure function of what the reconcile observed. */
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { BackupSpaceStatus } from '../../api/backupspace.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import { healthConditions, setCondition, type Health } from '../../runtime/conditions.ts';
import { spaceObjectNames } from '../labels.ts';
import type { GatewayReport } from '../../gateway/report-contract.ts';
import { replicasOf } from './desired.ts';
import { humanBytes } from './report.ts';

export interface SpaceObservation {
  /** A rule the space breaks, or a step it waits on, that stops it before or during provisioning. */
  blocked?: { state: 'stalled' | 'progressing'; reason: string; message: string };
  datacenter?: Datacenter;
  keys?: { keyId: string; custody: 'provider' | 'customer' };
  address?: string;
  volume?: V1PersistentVolumeClaim;
  gateway?: V1Deployment;
  pods: readonly V1Pod[];
  endpoints: number;
  /** The gateway's last report, if one was fetched. */
  gatewayReport?: GatewayReport;
}

function unschedulable(pods: readonly V1Pod[]): string | undefined {
  for (const pod of pods) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') return scheduled.message ?? 'no node fits';
  }
  return undefined;
}

export function spaceHealth(space: BackupSpace, observation: SpaceObservation): Health {
  if (observation.blocked) return observation.blocked;
  const wanted = replicasOf(space);
  const gateway = observation.gateway;
  const ready = gateway?.status?.readyReplicas ?? 0;
  const rolledOut = gateway !== undefined && (gateway.status?.observedGeneration ?? 0) >= (gateway.metadata?.generation ?? 0) && (gateway.status?.updatedReplicas ?? 0) === wanted;
  const keyState = observation.gatewayReport?.gateway.dataKeyState;
  if (keyState === 'key-missing' || keyState === 'key-mismatch') {
    return { state: 'stalled', reason: keyState === 'key-missing' ? 'GatewayKeyMissing' : 'GatewayKeyMismatch', message: `the gateway reports its data key as ${keyState}` };
  }
  if (ready >= wanted && rolledOut) {
    return { state: 'ready', reason: 'GatewayReady', message: `${ready} gateway replica(s) ready on distinct nodes of ${space.spec.datacenter}` };
  }
  const blockedPods = unschedulable(observation.pods);
  if (blockedPods) {
    return { state: 'progressing', reason: 'GatewayUnschedulable', message: `${ready}/${wanted} gateway replicas ready; the scheduler cannot place the rest: ${blockedPods}` };
  }
  return { state: 'progressing', reason: 'GatewayStarting', message: `${ready}/${wanted} gateway replicas ready` };
}

export function spacePhase(health: Health, observation: SpaceObservation): NonNullable<BackupSpaceStatus['phase']> {
  if (health.state === 'stalled') return 'Blocked';
  if (!observation.keys) return 'Pending';
  if (health.state === 'progressing') return 'Provisioning';
  // Customer custody: the gateway serves nothing until a tenant admin unseals it with the password.
  if (observation.gatewayReport?.gateway.dataKeyState === 'sealed') return 'Sealed';
  return 'Ready';
}

/** Usage and the last backup of any endpoint, from the gateway's report (kept from before when there is none). */
function reportedFacts(previous: BackupSpaceStatus, report: GatewayReport | undefined): Pick<BackupSpaceStatus, 'usedBytes' | 'used' | 'lastBackupTime'> {
  if (!report) {
    return {
      ...(previous.usedBytes !== undefined ? { usedBytes: previous.usedBytes } : {}),
      ...(previous.used !== undefined ? { used: previous.used } : {}),
      ...(previous.lastBackupTime !== undefined ? { lastBackupTime: previous.lastBackupTime } : {}),
    };
  }
  const last = report.endpoints.map((e) => e.lastBackupAt).filter((t): t is string => t !== null).sort().at(-1);
  return { usedBytes: report.space.usedBytes, used: humanBytes(report.space.usedBytes), ...(last ? { lastBackupTime: last } : {}) };
}

export function spaceStatus(space: BackupSpace, observation: SpaceObservation, now: Date): BackupSpaceStatus {
  const generation = space.metadata.generation;
  const health = spaceHealth(space, observation);
  const previous = space.status ?? {};
  let conditions = healthConditions(previous.conditions, health, generation, now);
  if (observation.keys) {
    conditions = setCondition(conditions, {
      type: 'KeyReady',
      status: 'True',
      reason: observation.keys.custody === 'customer' ? 'CustomerHeld' : 'ProviderHeld',
      message: observation.keys.custody === 'customer'
        ? `data key ${observation.keys.keyId} is wrapped by the customer's password; only they can unseal it`
        : `data key ${observation.keys.keyId} is wrapped by the operator's master key`,
    }, generation, now);
  } else if (observation.blocked) {
    conditions = setCondition(conditions, { type: 'KeyReady', status: 'False', reason: observation.blocked.reason, message: observation.blocked.message }, generation, now);
  }
  const nodes = [...new Set(observation.pods.map((p) => p.spec?.nodeName).filter((n): n is string => !!n))].sort();
  const capacity = observation.volume?.status?.capacity?.storage;
  if (observation.gatewayReport) {
    const sealed = observation.gatewayReport.gateway.dataKeyState === 'sealed';
    conditions = setCondition(conditions, {
      type: 'Sealed',
      status: sealed ? 'True' : 'False',
      reason: sealed ? 'AwaitingCustomerPassword' : 'Unsealed',
      message: sealed ? 'the gateway holds no key: a tenant admin must unseal it with the customer\'s password (POST /v1/unseal)' : 'the gateway holds the data key in memory',
    }, generation, now);
  }
  return {
    ...reportedFacts(previous, observation.gatewayReport),
    observedGeneration: generation,
    conditions,
    phase: spacePhase(health, observation),
    ...(capacity ? { capacity } : {}),
    datacenter: space.spec.datacenter,
    ...(observation.datacenter ? { country: observation.datacenter.spec.country } : {}),
    nodes,
    // The key id survives everything: it is how a lost key Secret is noticed instead of replaced.
    ...(observation.keys?.keyId ?? previous.keyId ? { keyId: observation.keys?.keyId ?? previous.keyId } : {}),
    ...(observation.keys?.custody ?? previous.keyCustody ? { keyCustody: observation.keys?.custody ?? previous.keyCustody } : {}),
    endpoints: observation.endpoints,
    ...(observation.address ? { address: observation.address } : {}),
    serviceName: spaceObjectNames(space.metadata.name ?? '').gateway,
  };
}
