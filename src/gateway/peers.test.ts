import { describe, expect, it } from 'vitest';
import { Peers, otherPeers, parsePeerDnsName, parsePeerList, peerSourceOf, peerTokenMatches, type Resolver } from './peers.ts';
import { replicaCounts } from './report.ts';

describe('peer list (--peers)', () => {
  it('parses host:port and [v6]:port entries, ignoring spaces and empty entries', () => {
    expect(parsePeerList('127.0.0.1:8443, 10.0.0.7:9000,,[fd00::1]:8443')).toEqual([
      { host: '127.0.0.1', port: 8443 },
      { host: '10.0.0.7', port: 9000 },
      { host: 'fd00::1', port: 8443 },
    ]);
  });

  it('refuses entries without a host or a usable port, naming the flag and the entry', () => {
    expect(() => parsePeerList('')).toThrow(/--peers must list at least one host:port/);
    expect(() => parsePeerList(':8443')).toThrow(/--peers: each peer must be host:port.*":8443"/);
    expect(() => parsePeerList('10.0.0.1:0')).toThrow(/non-zero port/);
    expect(() => parsePeerList('10.0.0.1')).toThrow(/--peers must be host:port/);
    expect(() => parsePeerList('10.0.0.1:70000')).toThrow(/--peers/);
    expect(() => parsePeerList('fd00::1:8443')).toThrow(/--peers/);
  });

  it('takes a DNS name for --peers-dns, and refuses one that is not', () => {
    expect(parsePeerDnsName('vault-gateway-peers')).toBe('vault-gateway-peers');
    expect(parsePeerDnsName('vault-gateway-peers.tenant-acme.svc.cluster.local.')).toBe('vault-gateway-peers.tenant-acme.svc.cluster.local');
    expect(() => parsePeerDnsName('vault-gateway-peers:8443')).toThrow(/--peers-dns must be a DNS name/);
    expect(() => parsePeerDnsName('Vault_Peers')).toThrow(/--peers-dns/);
    expect(() => parsePeerDnsName('')).toThrow(/--peers-dns/);
  });

  it('accepts one of --peers and --peers-dns, not both; neither means a single replica', () => {
    expect(peerSourceOf({})).toEqual({ kind: 'none' });
    expect(peerSourceOf({ peersDns: 'x-gateway-peers' })).toEqual({ kind: 'dns', name: 'x-gateway-peers' });
    expect(peerSourceOf({ peers: '127.0.0.1:1' })).toEqual({ kind: 'static', peers: [{ host: '127.0.0.1', port: 1 }] });
    expect(() => peerSourceOf({ peers: '127.0.0.1:1', peersDns: 'x' })).toThrow(/exclude each other/);
  });
});

describe('the other replicas', () => {
  const local = new Set(['127.0.0.1', '10.244.1.5', '::1']);

  it('leaves out this replica (our port on one of our addresses) and duplicates', () => {
    const peers = [
      { host: '10.244.1.5', port: 8443 },
      { host: '10.244.2.9', port: 8443 },
      { host: '10.244.2.9', port: 8443 },
      { host: '10.244.3.4', port: 8443 },
    ];
    expect(otherPeers(peers, { host: '0.0.0.0', port: 8443 }, local)).toEqual([{ host: '10.244.2.9', port: 8443 }, { host: '10.244.3.4', port: 8443 }]);
  });

  it('keeps a process on our host but another port (replicas on one machine)', () => {
    const peers = [{ host: '127.0.0.1', port: 9001 }, { host: '127.0.0.1', port: 9002 }];
    expect(otherPeers(peers, { host: '127.0.0.1', port: 9002 }, local)).toEqual([{ host: '127.0.0.1', port: 9001 }]);
  });
});

describe('peers by DNS (--peers-dns, the headless Service)', () => {
  const credentials = () => ({ token: 't'.repeat(43), ca: Buffer.from('ca'), serverName: 'vault-gateway.tenant-acme.svc' });
  const peers = (resolve: Resolver) => new Peers({
    source: { kind: 'dns', name: 'vault-gateway-peers' },
    self: () => ({ host: '0.0.0.0', port: 8443 }),
    credentials,
    resolve,
    localAddresses: () => new Set(['10.244.1.5', '127.0.0.1']),
  });

  it('resolves the name at each call, on our own port, leaving out our own pod address', async () => {
    const asked: string[] = [];
    let answer = ['10.244.1.5', '10.244.2.9'];
    const directory = peers(async (name) => {
      asked.push(name);
      return answer.map((address) => ({ address }));
    });
    expect(await directory.list()).toEqual([{ host: '10.244.2.9', port: 8443 }]);
    answer = ['10.244.1.5', '10.244.2.9', 'fd00::3'];
    expect(await directory.list()).toEqual([{ host: '10.244.2.9', port: 8443 }, { host: 'fd00::3', port: 8443 }]);
    expect(asked).toEqual(['vault-gateway-peers', 'vault-gateway-peers']);
  });

  it('finds nobody while the name does not exist yet, and lets other DNS failures through', async () => {
    const missing = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    expect(await peers(() => Promise.reject(missing)).list()).toEqual([]);
    const broken = Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    await expect(peers(() => Promise.reject(broken)).list()).rejects.toThrow(/EAI_AGAIN/);
  });

  it('relays nothing without a peer token or a CA to check peers against', async () => {
    let resolved = 0;
    const resolve: Resolver = async () => {
      resolved += 1;
      return [{ address: '10.244.2.9' }];
    };
    for (const missing of [{ token: null }, { ca: null }]) {
      const directory = new Peers({ source: { kind: 'dns', name: 'x' }, self: () => ({ host: '0.0.0.0', port: 8443 }), credentials: () => ({ ...credentials(), ...missing }), resolve });
      expect(directory.problem()).toMatch(/peer\.token|ca\.crt/);
      expect(await directory.relayUnseal('password')).toEqual([]);
    }
    expect(resolved).toBe(0);
  });
});

describe('peer token', () => {
  it('matches only the same token, and never an absent or empty one', () => {
    expect(peerTokenMatches('a'.repeat(43), 'a'.repeat(43))).toBe(true);
    expect(peerTokenMatches('a'.repeat(43), 'b'.repeat(43))).toBe(false);
    expect(peerTokenMatches('a'.repeat(42), 'a'.repeat(43))).toBe(false);
    expect(peerTokenMatches(null, 'a'.repeat(43))).toBe(false);
    expect(peerTokenMatches('', '')).toBe(false);
    expect(peerTokenMatches('x', null)).toBe(false);
  });
});

describe('replica counts in the report', () => {
  it('counts this replica and its peers: sealed ones, and those that did not answer apart', () => {
    expect(replicaCounts('sealed', [{ peer: 'a:1', outcome: 'ready' }])).toEqual({ total: 2, sealed: 1, unreachable: 0 });
    expect(replicaCounts('ready', [{ peer: 'a:1', outcome: 'sealed' }, { peer: 'b:1', outcome: 'unreachable' }])).toEqual({ total: 3, sealed: 1, unreachable: 1 });
    expect(replicaCounts('ready', [])).toEqual({ total: 1, sealed: 0, unreachable: 0 });
  });
});
