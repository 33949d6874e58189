/**
 * CIDR blocks of the operator's flags (`--cluster-cidrs`, `--admin-cidrs`), checked at start-up: each
 * goes verbatim into the `except` of the tenants' NetworkPolicies, where the API server refuses a
 * malformed one only when the first tenant is reconciled (and a block with bits set past its prefix
 * may not mean what its author thought). So a bad value stops the operator at once, naming the flag.
 */
import { isIPv4, isIPv6 } from 'node:net';

export class CidrError extends Error {}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Bits(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:192.0.2.1) is two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = ipv4Bits(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail ?? '').length;
  const all = tail === undefined ? groups(head) : [...groups(head), ...Array<string>(missing).fill('0'), ...groups(tail)];
  return all.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function formatIpv4(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => ((bits >> shift) & 0xffn).toString()).join('.');
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(bits: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt((7 - i) * 16)) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/**
 * One block in its canonical form (`2001:DB8::/32` → `2001:db8::/32`), or a CidrError saying what is
 * wrong: not an address/prefix, a prefix out of range, bits set past the prefix, or a /0 (which
 * would except every client of its family).
 */
export function parseCidr(value: string): { cidr: string; family: 4 | 6 } {
  const [address = '', prefixText, extra] = value.trim().split('/');
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (!family || extra !== undefined) throw new CidrError(`'${value}' is not a CIDR block (an address and a prefix length, such as 192.0.2.0/24 or 2001:db8::/32)`);
  if (prefixText === undefined) throw new CidrError(`'${value}' has no prefix length; for this one address write ${address}/${family === 4 ? 32 : 128}`);
  const width = family === 4 ? 32 : 128;
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!Number.isInteger(prefix) || prefix > width) throw new CidrError(`'${value}': the prefix length of an IPv${family} block is 0 to ${width}, not ${prefixText}`);
  if (prefix === 0) throw new CidrError(`'${value}' is every IPv${family} address: excepting it would shut out every backup client of that family; list the networks themselves`);
  const bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const hostMask = (1n << BigInt(width - prefix)) - 1n;
  const network = bits & ~hostMask;
  const format = family === 4 ? formatIpv4 : formatIpv6;
  if (network !== bits) throw new CidrError(`'${value}' has bits set past its /${prefix} prefix; the network is ${format(network)}/${prefix}`);
  return { cidr: `${format(network)}/${prefix}`, family };
}

/** The flag's comma-separated list, each block checked and made canonical; errors name the flag. */
export function cidrList(flag: string): (value: string) => string[] {
  return (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    try {
      return parseCidr(entry).cidr;
    } catch (error) {
      if (error instanceof CidrError) throw new CidrError(`${flag}: ${error.message}`);
      throw error;
    }
  });
}
