/**
 * A tenant's usage sample from the objects in its namespace: the bytes its spaces hold, as their
 * gateways last reported them (BackupSpace status.usedBytes; a space not reported yet holds 0), and
 * the endpoints that exist, whatever their activation: a device is a unit from its Endpoint's
 * creation to its deletion (S10). Pure.
 */
import type { BackupSpace, Endpoint } from '../api/types.ts';
import type { UsageSample } from './accumulate.ts';

export function tenantSample(atMs: number, spaces: readonly BackupSpace[], endpoints: readonly Endpoint[]): UsageSample {
  let storageBytes = 0n;
  for (const space of spaces) storageBytes += BigInt(space.status?.usedBytes ?? 0);
  return { atS: Math.floor(atMs / 1000), storageBytes, endpoints: endpoints.map((e) => e.metadata.name ?? '').filter(Boolean) };
}

/** A tenant that is gone holds nothing: its last month runs to its end with zero usage, then closes. */
export const goneSample = (atMs: number): UsageSample => ({ atS: Math.floor(atMs / 1000), storageBytes: 0n, endpoints: [] });
