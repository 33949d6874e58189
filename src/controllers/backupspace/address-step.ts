/** The address step (S8): a space that asks for a fixed address gets one of its datacenter's pool. */
import { API } from '../../api/refs.ts';
import { applyStatus } from '../../runtime/apply.ts';
import type { ControllerContext } from '../context.ts';
import { chooseAddress } from './address.ts';
import { proceed, stall, type ProvisionFacts, type SpaceCaches, type StepResult } from './step.ts';

/** Serialises address allocation per datacenter, so two spaces never pick the same free address. */
const addressLocks = new Map<string, Promise<unknown>>();
async function withAddressLock<T>(datacenter: string, work: () => Promise<T>): Promise<T> {
  const previous = addressLocks.get(datacenter) ?? Promise.resolve();
  const next = previous.then(work, work);
  addressLocks.set(datacenter, next.catch(() => undefined));
  return next;
}

/** The space's fixed address, or none when it asks for none. */
export async function assignAddress(ctx: ControllerContext, caches: SpaceCaches, facts: ProvisionFacts): Promise<StepResult<string | undefined>> {
  const { space, datacenter } = facts;
  if (!space.spec.fixedAddress) return proceed(undefined);
  const choice = await withAddressLock(datacenter.metadata.name ?? '', async () => chooseAddress(space, datacenter, caches.spaces.list((s) => s.spec.datacenter === space.spec.datacenter)));
  if (!choice.ok) return stall(choice.reason, choice.message);
  if (space.status?.address !== choice.address) {
    // Record the address at once, so the next space's allocation sees it taken.
    await applyStatus(ctx.client, API.BackupSpace, space, { ...space.status, address: choice.address });
    await ctx.recorder.normal(space, 'AddressAssigned', `fixed address ${choice.address} from the pool of ${datacenter.metadata.name}`);
  }
  return proceed(choice.address);
}
