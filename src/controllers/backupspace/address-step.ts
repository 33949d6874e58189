/**
 * The address step (S8): a space that asks for a fixed address gets one of its datacenter's pool,
 * claimed in the datacenter's allocation object on the API server (address-claims.ts) before
 * anything of the space is built, so a space whose address cannot be had gets no keys.
 */
import type { BackupSpace } from '../../api/types.ts';
import { spacesInDatacenter } from '../cache-indexes.ts';
import type { ControllerContext } from '../context.ts';
import type { AddressChoice } from './address.ts';
import { claimAddress, releaseAddress, updateClaims } from './address-claims.ts';
import { proceed, stall, type ProvisionFacts, type SpaceCaches, type StepResult } from './step.ts';

/** The space's fixed address, or none when it asks for none (then an address it held is given back). */
export async function assignAddress(ctx: ControllerContext, caches: SpaceCaches, operatorNamespace: string, facts: ProvisionFacts): Promise<StepResult<string | undefined>> {
  const { space, datacenter } = facts;
  const datacenterName = datacenter.metadata.name ?? '';
  if (!space.spec.fixedAddress) {
    if (space.status?.address) await giveBackAddress(ctx, operatorNamespace, space);
    return proceed(undefined);
  }
  // Addresses other spaces show in status count as taken too: spaces allocated before claims existed.
  const shown = spacesInDatacenter(caches.spaces, space.spec.datacenter).filter((s) => s.metadata.uid !== space.metadata.uid).flatMap((s) => (s.status?.address ? [s.status.address] : []));
  const { choice, claimed } = await updateClaims<{ choice: AddressChoice; claimed: boolean }>(ctx.client, operatorNamespace, datacenterName, (claims) => {
    const decision = claimAddress(claims, space, datacenter, shown);
    return { result: { choice: decision.choice, claimed: decision.claims !== undefined }, ...(decision.claims ? { claims: decision.claims } : {}) };
  });
  if (!choice.ok) return stall(choice.reason, choice.message, { warn: true });
  if (claimed) await ctx.recorder.normal(space, 'AddressAssigned', `fixed address ${choice.address} from the pool of ${datacenterName}`);
  return proceed(choice.address);
}

/** Removes the space's claim in its datacenter, if it holds one. */
export async function giveBackAddress(ctx: ControllerContext, operatorNamespace: string, space: BackupSpace): Promise<void> {
  await updateClaims(ctx.client, operatorNamespace, space.spec.datacenter, (claims) => {
    const rest = releaseAddress(claims, space);
    return { result: undefined, ...(rest ? { claims: rest } : {}) };
  });
}
