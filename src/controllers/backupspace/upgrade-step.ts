/**
 * The upgrade step: which image the space's gateway Deployment gets (upgrade.ts decides). Under
 * Manual the image the space runs is read from the Deployment the API server holds — a GET, not the
 * cache — whenever it may differ from the current one: the cache could be a moment behind our own
 * last write (an approved roll), and what a held space runs must never come from memory or status.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { getObject } from '../../runtime/apply.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import type { ControllerContext } from '../context.ts';
import type { ProvisionFacts, SpaceCaches } from './step.ts';
import { approvalOf, chooseGatewayImage, gatewayImageOf, upgradePolicy, type EffectivePolicy, type ImageChoice } from './upgrade.ts';

export interface GatewayImagePlan {
  effective: EffectivePolicy;
  choice: ImageChoice;
}

export async function planGatewayImage(ctx: ControllerContext, caches: SpaceCaches, facts: ProvisionFacts, current: string): Promise<GatewayImagePlan> {
  const { space, datacenter, namespace, names } = facts;
  const effective = upgradePolicy(space, datacenter);
  const approval = approvalOf(space);
  if (effective.policy === 'Automatic') return { effective, choice: chooseGatewayImage({ policy: 'Automatic', current, running: undefined, approval }) };
  const cached = caches.owned.get(K8S.Deployment)?.get(`${namespace}/${names.gateway}`) as V1Deployment | undefined;
  const cachedImage = gatewayImageOf(cached);
  const running = cachedImage === current ? cachedImage : gatewayImageOf(await getObject<V1Deployment>(ctx.client, K8S.Deployment, names.gateway, namespace));
  return { effective, choice: chooseGatewayImage({ policy: effective.policy, current, running, approval }) };
}
