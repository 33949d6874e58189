/**
 * Where fixed-address allocations live (S8): one ConfigMap per datacenter in the operator's
 * namespace, `<space namespace>.<space name>` → address, replaced only under a resourceVersion
 * precondition and re-read and re-decided on 409 Conflict. The API server is then the lock: two
 * reconciles (or two operator processes, across a leader change) that decided on the same free
 * address from the same version cannot both store it, and a lagging cache can no longer hide an
 * allocation, because the decision reads the allocations from the API server and writes them back
 * in one compare-and-swap. Nothing depends on `status.address`, so a restore that drops status
 * (Velero restores status only on request) leaves each space its address.
 *
 * One object per datacenter rather than one claim object per address: a space's allocation is then
 * one entry that moves with it (a new request, an address leaving the pool) in a single write, the
 * whole pool's state reads in one GET, and releasing it cannot leave an orphaned claim beside a new
 * one. Keyed by the space's name rather than its uid, so a restored space (new uid) keeps its address.
 * A pool of up to a few thousand addresses stays far below a ConfigMap's 1 MiB.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import { getObject } from '../../runtime/apply.ts';
import { TemporaryError } from '../../runtime/controller.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { isConflict } from '../../runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath } from '../../runtime/kube/resource-ref.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, OPERATOR_NAME } from '../labels.ts';
import { chooseAddress, type AddressChoice } from './address.ts';

/** `claim key` → address. */
export type Claims = Readonly<Record<string, string>>;

export const ADDRESS_CLAIMS_LABEL = 'tenantbackup.io/address-claims';
const MAX_ATTEMPTS = 8;

export function claimsConfigMapName(datacenter: string): string {
  return `${OPERATOR_NAME}-addresses-${datacenter}`;
}

/** A namespace is a DNS label (no dots), so the first dot splits the key back unambiguously. */
export function claimKey(space: BackupSpace): string {
  return `${space.metadata.namespace ?? ''}.${space.metadata.name ?? ''}`;
}

/**
 * The address the space gets and the claims to store for it (none when nothing changes). It holds
 * what its claim says; a space from before claims existed holds what its status says, if free.
 * `alsoTaken`: addresses other spaces show in status (spaces allocated before claims existed).
 */
export function claimAddress(claims: Claims, space: BackupSpace, datacenter: Datacenter, alsoTaken: readonly string[] = []): { choice: AddressChoice; claims?: Claims } {
  const key = claimKey(space);
  const taken = new Set([...Object.entries(claims).filter(([k]) => k !== key).map(([, address]) => address), ...alsoTaken]);
  const choice = chooseAddress(space, datacenter, claims[key] ?? space.status?.address, taken);
  if (!choice.ok || claims[key] === choice.address) return { choice };
  return { choice, claims: { ...claims, [key]: choice.address } };
}

/** The claims without the space's; none when it held nothing. */
export function releaseAddress(claims: Claims, space: BackupSpace): Claims | undefined {
  const key = claimKey(space);
  if (!(key in claims)) return undefined;
  const { [key]: _released, ...rest } = claims;
  return rest;
}

function claimsObject(name: string, namespace: string, datacenter: string, claims: Claims, resourceVersion: string | undefined): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [ADDRESS_CLAIMS_LABEL]: datacenter }, ...(resourceVersion ? { resourceVersion } : {}) },
    data: { ...claims },
  };
}

/**
 * Reads the datacenter's claims from the API server, lets `decide` compute the next ones, and stores
 * them if they changed, on the version read (create if there were none): on 409 it reads and decides
 * again. Returns what `decide` said of the claims that were stored.
 */
export async function updateClaims<R>(client: KubeClient, namespace: string, datacenter: string, decide: (claims: Claims) => { result: R; claims?: Claims }): Promise<R> {
  const name = claimsConfigMapName(datacenter);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stored = await getObject<V1ConfigMap>(client, K8S.ConfigMap, name, namespace);
    const decision = decide(stored?.data ?? {});
    if (!decision.claims) return decision.result;
    const resourceVersion = stored?.metadata?.resourceVersion;
    const body = claimsObject(name, namespace, datacenter, decision.claims, resourceVersion);
    try {
      if (resourceVersion) await client.request({ method: 'PUT', path: objectPath(K8S.ConfigMap, name, namespace), body });
      else await client.request({ method: 'POST', path: collectionPath(K8S.ConfigMap, namespace), body });
      return decision.result;
    } catch (error) {
      // Someone stored other claims since the read (409 on the version, or on creating it): decide again.
      if (!isConflict(error)) throw error;
    }
  }
  throw new TemporaryError(`the address claims of datacenter ${datacenter} kept changing during ${MAX_ATTEMPTS} attempts`, 200);
}
