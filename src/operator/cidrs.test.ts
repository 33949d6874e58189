import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../test/support/run.ts';
import { cidrList, parseCidr } from './cidrs.ts';

const entryPoint = join(import.meta.dirname, '../cli/main.ts');

describe('CIDR flags', () => {
  it('takes IPv4 and IPv6 blocks, in their canonical form', () => {
    expect(cidrList('--admin-cidrs')('192.0.2.0/24, 2001:DB8:0:0::/48,198.51.100.7/32,fd00::/8')).toEqual(['192.0.2.0/24', '2001:db8::/48', '198.51.100.7/32', 'fd00::/8']);
    expect(parseCidr('2001:db8:0:1:0:0:0:0/64')).toEqual({ cidr: '2001:db8:0:1::/64', family: 6 });
    expect(parseCidr('::ffff:192.0.2.0/120')).toEqual({ cidr: '::ffff:c000:200/120', family: 6 });
    expect(cidrList('--admin-cidrs')('')).toEqual([]);
  });

  it('refuses what is not a block, naming the flag and saying what would be right', () => {
    const parse = cidrList('--admin-cidrs');
    expect(() => parse('10.0.0.0/8,office')).toThrow("--admin-cidrs: 'office' is not a CIDR block (an address and a prefix length, such as 192.0.2.0/24 or 2001:db8::/32)");
    expect(() => parse('192.0.2.7')).toThrow("--admin-cidrs: '192.0.2.7' has no prefix length; for this one address write 192.0.2.7/32");
    expect(() => parse('10.0.0.0/33')).toThrow("--admin-cidrs: '10.0.0.0/33': the prefix length of an IPv4 block is 0 to 32, not 33");
    expect(() => parse('2001:db8::/129')).toThrow('the prefix length of an IPv6 block is 0 to 128, not 129');
    expect(() => parse('10.1.2.3/8')).toThrow("--admin-cidrs: '10.1.2.3/8' has bits set past its /8 prefix; the network is 10.0.0.0/8");
    expect(() => parse('2001:db8::1/64')).toThrow('the network is 2001:db8::/64');
    expect(() => cidrList('--cluster-cidrs')('::/0')).toThrow("--cluster-cidrs: '::/0' is every IPv6 address: excepting it would shut out every backup client of that family");
    expect(() => parse('256.0.0.0/8')).toThrow('is not a CIDR block');
    expect(() => parse('10.0.0.0/8/1')).toThrow('is not a CIDR block');
    expect(() => parse('10.0.0.0/+8')).toThrow('the prefix length');
  });
});

describe('the operator command', () => {
  it('stops at start-up on a bad block, naming the flag, before it reaches any cluster', async () => {
    const env = { ...process.env, KUBECONFIG: '/nonexistent/kubeconfig' };
    const admin = await run(process.execPath, [entryPoint, 'operator', '--admin-cidrs', '192.0.2.0/24,10.1.2.3/8'], { env, timeoutMs: 30_000 });
    expect(admin.code).toBe(1);
    expect(admin.stderr.trim()).toBe("--admin-cidrs: '10.1.2.3/8' has bits set past its /8 prefix; the network is 10.0.0.0/8");
    const cluster = await run(process.execPath, [entryPoint, 'operator', '--cluster-cidrs', 'pods'], { env, timeoutMs: 30_000 });
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toContain("--cluster-cidrs: 'pods' is not a CIDR block");
  });
});
