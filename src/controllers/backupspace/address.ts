/** Fixed addresses (S8): which address of its datacenter's pool a space gets. */
import { isIP } from 'node:net';
import type { BackupSpace, Datacenter } from '../../api/types.ts';

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * Every address of the pool, in order. IPv4 CIDR blocks are expanded without their network and
 * broadcast addresses (for blocks larger than /31); IPv6 entries must be single addresses.
 */
export function poolAddresses(datacenter: Datacenter, limit = 4096): string[] {
  const result: string[] = [];
  for (const entry of datacenter.spec.addressPool?.addresses ?? []) {
    const [address = '', prefixText] = entry.split('/');
    if (prefixText === undefined || isIP(address) === 6) {
      if (prefixText === undefined) result.push(address);
      continue;
    }
    const prefix = Number(prefixText);
    const size = 2 ** (32 - prefix);
    const base = ipv4ToNumber(address) - (ipv4ToNumber(address) % size);
    const [first, last] = size > 2 ? [base + 1, base + size - 2] : [base, base + size - 1];
    for (let n = first; n <= last && result.length < limit; n++) result.push(numberToIpv4(n));
  }
  return result;
}

export type AddressChoice = { ok: true; address: string } | { ok: false; reason: string; message: string };

/**
 * The space keeps the address it holds (`held`) while that is in the pool and nobody else's;
 * otherwise it gets the one it asks for, if that is in the pool and free, or the first free one.
 * `taken` are the addresses other spaces hold.
 */
export function chooseAddress(space: BackupSpace, datacenter: Datacenter, held: string | undefined, taken: ReadonlySet<string>): AddressChoice {
  const pool = poolAddresses(datacenter);
  if (pool.length === 0) {
    return { ok: false, reason: 'NoAddressPool', message: `spec.fixedAddress: datacenter ${datacenter.metadata.name} has no address pool` };
  }
  const wanted = space.spec.fixedAddress?.ip;
  if (held && (!wanted || wanted === held) && pool.includes(held) && !taken.has(held)) return { ok: true, address: held };
  if (wanted) {
    if (!pool.includes(wanted)) return { ok: false, reason: 'AddressNotInPool', message: `spec.fixedAddress.ip: ${wanted} is not in the address pool of datacenter ${datacenter.metadata.name}` };
    if (taken.has(wanted)) return { ok: false, reason: 'AddressTaken', message: `spec.fixedAddress.ip: ${wanted} is already used by another space` };
    return { ok: true, address: wanted };
  }
  const free = pool.find((a) => !taken.has(a));
  return free ? { ok: true, address: free } : { ok: false, reason: 'AddressPoolExhausted', message: `spec.fixedAddress: every address of datacenter ${datacenter.metadata.name}'s pool is taken` };
}
