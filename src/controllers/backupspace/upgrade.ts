/**
 * Controlled gateway upgrades (S3), as pure functions. The operator is started with the current
 * gateway image (`--gateway-image`); each space's gateway takes it at once under the Automatic policy,
 * or keeps the image its Deployment runs under Manual until a provider approves the new one. The
 * policy is the space's `spec.upgrade.policy`, else its datacenter's `spec.gatewayUpgrade`, else
 * Automatic — so a provider can set every datacenter but one to Manual, upgrade the operator, watch
 * that datacenter roll, then open the next.
 *
 * What image a Manual space runs is read from its Deployment as the API server holds it, never from
 * status or memory: a restarted operator (with a new image) must not forget which image each held
 * space was left on, and a restored status must not move a space.
 *
 * Approval: the annotation `tenantbackup.io/approve-upgrade: <image>` on the space approves exactly
 * that image. It only takes effect when it names the operator's current gateway image, so an
 * approval given for one release never lets a later one through unseen.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { UPGRADE_POLICIES } from '../../api/backupspace.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';

export type UpgradePolicy = (typeof UPGRADE_POLICIES)[number];
export const APPROVE_UPGRADE_ANNOTATION = 'tenantbackup.io/approve-upgrade';
export const UP_TO_DATE_CONDITION = 'UpToDate';
/** The gateway container of a space's Deployment (desired.ts names it). */
const GATEWAY_CONTAINER = 'gateway';

export interface EffectivePolicy {
  policy: UpgradePolicy;
  /** Where it came from, for the condition's message. */
  from: 'space' | 'datacenter' | 'default';
}

export function upgradePolicy(space: Pick<BackupSpace, 'spec'>, datacenter: Pick<Datacenter, 'spec'> | undefined): EffectivePolicy {
  const own = space.spec.upgrade?.policy;
  if (own !== undefined) return { policy: own, from: 'space' };
  const inherited = datacenter?.spec.gatewayUpgrade;
  if (inherited !== undefined) return { policy: inherited, from: 'datacenter' };
  return { policy: 'Automatic', from: 'default' };
}

/** The image the Deployment's pod template runs (not what its old pods may still run). */
export function gatewayImageOf(deployment: V1Deployment | undefined): string | undefined {
  return deployment?.spec?.template.spec?.containers.find((c) => c.name === GATEWAY_CONTAINER)?.image;
}

export interface ImageChoice {
  /** The image to put in the Deployment. */
  image: string;
  /** True when a newer image is held back by the Manual policy. */
  held: boolean;
  /** An approval annotation that names another image than the current one (ignored). */
  staleApproval?: string;
}

/**
 * The image a space's gateway should run. `running` is the image of its Deployment as stored
 * (undefined when there is none yet: a new space starts on the current image whatever its policy).
 */
export function chooseGatewayImage(input: { policy: UpgradePolicy; current: string; running: string | undefined; approval: string | undefined }): ImageChoice {
  const { policy, current, running, approval } = input;
  if (policy === 'Automatic' || running === undefined || running === current) return { image: current, held: false };
  if (approval === current) return { image: current, held: false };
  // Shown in the condition's message: bounded, as an annotation may be long and a condition may not.
  const stale = approval !== undefined && approval !== '' ? { staleApproval: approval.length > 256 ? `${approval.slice(0, 256)}…` : approval } : {};
  return { image: running, held: true, ...stale };
}

export function approvalOf(space: Pick<BackupSpace, 'metadata'>): string | undefined {
  return space.metadata.annotations?.[APPROVE_UPGRADE_ANNOTATION];
}

/**
 * True once the Deployment controller has seen the Deployment's latest spec and every replica runs
 * it: all updated, none left of an older ReplicaSet. Availability is Ready's business (status.ts).
 */
export function deploymentUpdated(deployment: V1Deployment | undefined, wanted: number): boolean {
  if (deployment === undefined) return false;
  const status = deployment.status ?? {};
  return (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) && (status.updatedReplicas ?? 0) === wanted;
}

/** As `kubectl rollout status` judges it: updated, no replica of an older ReplicaSet left, all available. */
export function deploymentRolledOut(deployment: V1Deployment | undefined, wanted: number): boolean {
  const status = deployment?.status ?? {};
  return deploymentUpdated(deployment, wanted) && (status.replicas ?? 0) === wanted && (status.availableReplicas ?? 0) >= wanted;
}

function describePolicy(effective: EffectivePolicy, datacenter: string): string {
  if (effective.from === 'space') return `spec.upgrade.policy is ${effective.policy}`;
  if (effective.from === 'datacenter') return `datacenter ${datacenter} has spec.gatewayUpgrade ${effective.policy}`;
  return `policy ${effective.policy}`;
}

/**
 * The UpToDate condition: True when the Deployment, as observed, asks for the current image and has
 * rolled out; False with UpgradeAvailable while a Manual policy holds the space back, RollingOut
 * while the new image is on its way. It says nothing about health: Ready keeps that meaning, and
 * neither kstatus nor the Argo CD health check reads this condition.
 */
export function upToDateCondition(input: {
  space: Pick<BackupSpace, 'metadata' | 'spec'>;
  effective: EffectivePolicy;
  choice: ImageChoice;
  current: string;
  observed: V1Deployment | undefined;
  wanted: number;
}): ConditionInput {
  const { space, effective, choice, current, observed, wanted } = input;
  if (choice.held) {
    const stale = choice.staleApproval !== undefined ? ` (the approval names ${choice.staleApproval}, not ${current})` : '';
    return {
      type: UP_TO_DATE_CONDITION,
      status: 'False',
      reason: 'UpgradeAvailable',
      message: `the gateway runs ${choice.image}; ${current} is available and held back because ${describePolicy(effective, space.spec.datacenter)}${stale}. `
        + `Approve it: kubectl annotate backupspace ${space.metadata.name ?? ''} -n ${space.metadata.namespace ?? ''} ${APPROVE_UPGRADE_ANNOTATION}=${current} --overwrite, or set spec.upgrade.policy to Automatic`,
    };
  }
  const observedImage = gatewayImageOf(observed);
  if (observedImage !== current || !deploymentRolledOut(observed, wanted)) {
    const updated = observedImage === current ? (observed?.status?.updatedReplicas ?? 0) : 0;
    return { type: UP_TO_DATE_CONDITION, status: 'False', reason: 'RollingOut', message: `rolling the gateway out to ${current}: ${updated}/${wanted} replica(s) updated` };
  }
  return { type: UP_TO_DATE_CONDITION, status: 'True', reason: 'CurrentImage', message: `the gateway runs ${current}, the operator's current gateway image, on all ${wanted} replica(s)` };
}
