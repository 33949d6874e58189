/**
 * The workload step: the space's volume, ServiceAccount, gateway Deployment, Services, peers
 * NetworkPolicy and (with more than one replica) PodDisruptionBudget, applied when they differ from
 * what is stored; then what came of them (the Deployment, the claim, the pods) for the status.
 */
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { ApplyObject } from '../../runtime/apply.ts';
import { deleteObject } from '../../runtime/apply.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { ensureApplied, type ControllerContext } from '../context.ts';
import { podsOfSpace } from '../cache-indexes.ts';
import {
  desiredDisruptionBudget,
  desiredGateway,
  desiredPeerPolicy,
  desiredPeerService,
  desiredService,
  desiredServiceAccount,
  desiredVolume,
  type SpaceSettings,
} from './desired.ts';
import type { ProvisionFacts, SpaceCaches } from './step.ts';

export const OWNED_KINDS: readonly ResourceRef[] = [K8S.PersistentVolumeClaim, K8S.ServiceAccount, K8S.Deployment, K8S.Service, K8S.PodDisruptionBudget, K8S.NetworkPolicy];

export interface DesiredWorkload {
  objects: { ref: ResourceRef; object: ApplyObject }[];
  /** False when the space runs one replica: a budget would block every node drain. */
  withDisruptionBudget: boolean;
}

/** Every object of the space's workload, each with the resource it is applied as. */
export function desiredWorkload(facts: Pick<ProvisionFacts, 'space' | 'tenantName' | 'datacenter'>, settings: SpaceSettings, address: string | undefined): DesiredWorkload {
  const { space, tenantName, datacenter } = facts;
  const budget = desiredDisruptionBudget(space, tenantName);
  const objects = [
    desiredVolume(space, tenantName, datacenter),
    desiredServiceAccount(space, tenantName),
    desiredGateway(space, tenantName, datacenter, settings),
    desiredService(space, tenantName, datacenter, address),
    desiredPeerService(space, tenantName),
    desiredPeerPolicy(space, tenantName, settings.keyService),
    ...(budget ? [budget] : []),
  ];
  return {
    objects: objects.map((object) => {
      const ref = OWNED_KINDS.find((r) => r.kind === object.kind);
      if (!ref) throw new Error(`no owned kind ${object.kind}`);
      return { ref, object };
    }),
    withDisruptionBudget: budget !== undefined,
  };
}

export interface WorkloadObserved {
  gateway: V1Deployment | undefined;
  volume: V1PersistentVolumeClaim | undefined;
  pods: V1Pod[];
}

export async function applyWorkload(ctx: ControllerContext, caches: SpaceCaches, facts: ProvisionFacts, settings: SpaceSettings, address: string | undefined): Promise<WorkloadObserved> {
  const { space, namespace, names } = facts;
  const cached = (ref: ResourceRef, name: string) => caches.owned.get(ref)?.get(`${namespace}/${name}`);
  const desired = desiredWorkload(facts, settings, address);
  for (const { ref, object } of desired.objects) await ensureApplied(ctx, ref, object, cached(ref, object.metadata.name ?? ''));
  if (!desired.withDisruptionBudget && cached(K8S.PodDisruptionBudget, names.disruptionBudget)) {
    await deleteObject(ctx.client, K8S.PodDisruptionBudget, names.disruptionBudget, namespace);
  }
  return {
    gateway: cached(K8S.Deployment, names.gateway) as V1Deployment | undefined,
    volume: cached(K8S.PersistentVolumeClaim, names.volume) as V1PersistentVolumeClaim | undefined,
    pods: podsOfSpace(caches.pods, namespace, space.metadata.name ?? '').filter((p) => !p.metadata.deletionTimestamp),
  };
}
