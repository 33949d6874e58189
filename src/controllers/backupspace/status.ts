/** A BackupSpace's status as a pure function of what the reconcile observed. */
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { BackupSpaceStatus } from '../../api/backupspace.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import { healthConditions, setCondition, type ConditionInput, type Health } from '../../runtime/conditions.ts';
import { spaceObjectNames } from '../labels.ts';
import type { GatewayReport } from '../../gateway/report-contract.ts';
import { replicasOf } from './desired.ts';
import { humanBytes } from './report.ts';
import { deploymentUpdated } from './upgrade.ts';

export interface SpaceObservation {
  /** A rule the space breaks, or a step it waits on, that stops it before or during provisioning. */
  blocked?: { state: 'stalled' | 'progressing'; reason: string; message: string };
  datacenter?: Datacenter;
  /** keyId is absent while a customer-custody space waits for its password. */
  keys?: { keyId?: string; custody: 'provider' | 'customer' };
  address?: string;
  volume?: V1PersistentVolumeClaim;
  gateway?: V1Deployment;
  pods: readonly V1Pod[];
  endpoints: number;
  /** The gateway's last report, if one was fetched. */
  gatewayReport?: GatewayReport;
  /** The UpToDate condition (upgrade.ts), once the workload step chose the gateway's image. */
  upToDate?: ConditionInput;
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
  const rolledOut = deploymentUpdated(gateway, wanted);
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
  if (observation.gatewayReport && sealedReplicas(observation.gatewayReport).sealed > 0) return 'Sealed';
  return 'Ready';
}

/**
 * How many replicas are sealed, as the replica that answered sees them all; a gateway that does not
 * know its peers speaks for itself only.
 */
export function sealedReplicas(report: GatewayReport): { sealed: number; total: number; unreachable: number } {
  const replicas = report.gateway.replicas;
  if (replicas) return replicas;
  return { sealed: report.gateway.dataKeyState === 'sealed' ? 1 : 0, total: 1, unreachable: 0 };
}

function sealedCondition(report: GatewayReport): { status: 'True' | 'False'; reason: string; message: string } {
  const { sealed, total, unreachable } = sealedReplicas(report);
  const unknown = unreachable > 0 ? ` (${unreachable} did not answer)` : '';
  if (sealed === 0) return { status: 'False', reason: 'Unsealed', message: total > 1 ? `all ${total} gateway replicas hold the data key in memory${unknown}` : 'the gateway holds the data key in memory' };
  const which = total > 1 ? `${sealed} of ${total} gateway replicas sealed${unknown}` : 'the gateway holds no key';
  const what = sealed < total ? 'the next unseal reaches every replica' : 'a tenant admin must unseal it with the customer\'s password (POST /v1/unseal)';
  return { status: 'True', reason: sealed < total ? 'ReplicasSealed' : 'AwaitingCustomerPassword', message: `${which}: ${what}` };
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
  if (observation.keys && !observation.keys.keyId) {
    conditions = setCondition(conditions, { type: 'KeyReady', status: 'False', reason: 'AwaitingCustomerPassword', message: 'no data key yet: a tenant admin sets the space password at the gateway (POST /v1/password, signed in with password and TOTP), which makes the key; the provider never sees the password' }, generation, now);
  } else if (observation.keys) {
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
    conditions = setCondition(conditions, { type: 'Sealed', ...sealedCondition(observation.gatewayReport) }, generation, now);
  }
  // Kept as it was when a step stopped before the workload: nothing new is known of the gateway.
  if (observation.upToDate) conditions = setCondition(conditions, observation.upToDate, generation, now);
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
