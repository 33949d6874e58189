/**
 * The other replicas of this space's gateway, so that unsealing a space unseals every replica
 * whichever pod the Service sent the admin to (issue 12 item 9).
 *
 * Customer custody stays customer-only: the replica that accepted a valid unseal relays the
 * *password* (never the key) over TLS to its peers, and each peer unwraps the key itself. Nothing is
 * written anywhere. A peer is only sent the password when its certificate chains to the space CA
 * (`ca.crt` in the config dir, the operator's CA) AND carries this space's gateway Service name, so
 * a spoofed DNS answer or another space's gateway does not receive it. Requests between peers carry
 * the per-space peer token (`peer.token`, only in the gateway's config Secret), compared in constant
 * time. A peer never hands out the key: a replica that starts later starts sealed and is unsealed by
 * the next relay.
 *
 * Trust this does not remove: whoever can run a pod in the tenant namespace can mount the gateway's
 * TLS and config Secrets and so pass as a replica — but could as well change the gateway itself and
 * read the password from /v1/unseal. The relay adds no one to those who can see the password.
 *
 * Peers are found either from a fixed list (`--peers host:port,...`, for processes on one host) or
 * by resolving a name (`--peers-dns <name>`, the space's headless Service with
 * publishNotReadyAddresses, so every pod is listed while it starts), on our own port. This replica's
 * own address is left out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { parseListenAddress } from '../runtime/listen-address.ts';

export interface PeerAddress {
  host: string;
  port: number;
}

/** Where peers come from: a fixed list, a DNS name resolved at each use, or nowhere (one replica). */
export type PeerSource = { kind: 'none' } | { kind: 'static'; peers: PeerAddress[] } | { kind: 'dns'; name: string };

/** Parses `--peers host:port,[v6]:port,...`; the error names the flag and the bad entry. */
export function parsePeerList(text: string, flag = '--peers'): PeerAddress[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error(`${flag} must list at least one host:port`);
  return entries.map((entry) => {
    const { host, port } = parseListenAddress(entry, flag);
    if (entry.startsWith(':') || port === 0) throw new Error(`${flag}: each peer must be host:port with a host and a non-zero port, not "${entry}"`);
    return { host, port };
  });
}

/** Parses `--peers-dns <name>`: a DNS name (the headless Service), no port (peers listen on ours). */
export function parsePeerDnsName(text: string, flag = '--peers-dns'): string {
  const name = text.trim().replace(/\.$/, '');
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  if (name.length === 0 || name.length > 253 || !name.split('.').every((part) => label.test(part))) {
    throw new Error(`${flag} must be a DNS name of lowercase letters, digits, '-' and '.', not "${text}"`);
  }
  return name;
}

/** The peer source from the two command-line flags; giving both is refused. */
export function peerSourceOf(options: { peers?: string; peersDns?: string }): PeerSource {
  if (options.peers !== undefined && options.peersDns !== undefined) throw new Error('--peers and --peers-dns exclude each other: give one of them');
  if (options.peers !== undefined) return { kind: 'static', peers: parsePeerList(options.peers) };
  if (options.peersDns !== undefined) return { kind: 'dns', name: parsePeerDnsName(options.peersDns) };
  return { kind: 'none' };
}

/** Addresses of this host's interfaces (and the unspecified ones), to leave ourselves out. */
function localAddresses(): Set<string> {
  const local = new Set<string>(['0.0.0.0', '::', 'localhost']);
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) local.add(address.address);
  }
  return local;
}

/** The peers without ourselves (same port on one of our addresses) and without duplicates. */
export function otherPeers(peers: readonly PeerAddress[], self: PeerAddress, local: ReadonlySet<string> = localAddresses()): PeerAddress[] {
  const seen = new Set<string>();
  const others: PeerAddress[] = [];
  for (const peer of peers) {
    const key = formatPeer(peer);
    if (seen.has(key)) continue;
    seen.add(key);
    const isSelf = peer.port === self.port && (local.has(peer.host) || peer.host === self.host);
    if (!isSelf) others.push(peer);
  }
  return others;
}

export function formatPeer(peer: PeerAddress): string {
  return isIP(peer.host) === 6 ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

/** Constant-time comparison of a presented peer token with ours (hashes first: lengths may differ). */
export function peerTokenMatches(presented: string | null, expected: string | null): boolean {
  if (presented === null || expected === null || expected.length === 0) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The name every replica's certificate carries: the space's gateway Service (src/controllers/labels.ts). */
export function peerServerName(namespace: string, space: string): string {
  return `${space}-gateway.${namespace}.svc`;
}

/** What a peer answered to a relayed unseal or a state question. */
export interface PeerOutcome {
  peer: string;
  /** ready: unsealed (or already was); refused: it said no (wrong password, throttled); unreachable: no answer. */
  outcome: 'ready' | 'sealed' | 'refused' | 'unreachable';
  status?: number;
  message?: string;
}

export interface PeerCredentials {
  /** The per-space peer token, or null when the config dir has none (peering off). */
  token: string | null;
  /** PEM of the CA that signs every replica's certificate, or null (peering off). */
  ca: Buffer | null;
  /** The name the peers' certificates must carry. */
  serverName: string;
}

export const PEER_UNSEAL_PATH = '/v1/peer/unseal';
export const PEER_STATE_PATH = '/v1/peer/state';

/** Resolves a name to every address it has (getaddrinfo, so the pod's search domains apply). */
export type Resolver = (name: string) => Promise<{ address: string }[]>;

const systemResolver: Resolver = (name) => lookup(name, { all: true });

/** Finds and talks to the other replicas. */
export class Peers {
  readonly #source: PeerSource;
  readonly #self: () => PeerAddress;
  readonly #credentials: () => PeerCredentials;
  readonly #timeoutMs: number;
  readonly #resolve: Resolver;
  readonly #local: () => ReadonlySet<string>;

  constructor(options: { source: PeerSource; self: () => PeerAddress; credentials: () => PeerCredentials; timeoutMs?: number; resolve?: Resolver; localAddresses?: () => ReadonlySet<string> }) {
    this.#source = options.source;
    this.#self = options.self;
    this.#credentials = options.credentials;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#resolve = options.resolve ?? systemResolver;
    this.#local = options.localAddresses ?? localAddresses;
  }

  get enabled(): boolean {
    return this.#source.kind !== 'none';
  }

  /** Why peering cannot work although peers are configured, or null. */
  problem(): string | null {
    if (!this.enabled) return null;
    const { token, ca } = this.#credentials();
    if (token === null) return 'peers are configured but the config dir has no peer.token: unsealing reaches this replica only';
    if (ca === null) return 'peers are configured but the config dir has no ca.crt: unsealing reaches this replica only';
    return null;
  }

  /** The other replicas now (a DNS name is resolved at each call: pods come and go). */
  async list(): Promise<PeerAddress[]> {
    const self = this.#self();
    switch (this.#source.kind) {
      case 'none':
        return [];
      case 'static':
        return otherPeers(this.#source.peers, self, this.#local());
      case 'dns': {
        const addresses = await this.#resolve(this.#source.name).catch((error: unknown) => {
          // No pod listed yet (NXDOMAIN while the headless Service has no endpoints): nobody to tell.
          if ((error as NodeJS.ErrnoException).code === 'ENOTFOUND') return [];
          throw error;
        });
        return otherPeers(addresses.map((a) => ({ host: a.address, port: self.port })), self, this.#local());
      }
    }
  }

  /** Relays a verified password to every peer, in parallel; a peer that is down does not stop the others. */
  async relayUnseal(password: string): Promise<PeerOutcome[]> {
    if (this.problem() !== null) return [];
    const peers = await this.list();
    const body = JSON.stringify({ password });
    return Promise.all(peers.map(async (peer): Promise<PeerOutcome> => {
      const name = formatPeer(peer);
      try {
        const response = await this.#call(peer, 'POST', PEER_UNSEAL_PATH, body);
        if (response.status === 200) return { peer: name, outcome: 'ready', status: 200 };
        return { peer: name, outcome: 'refused', status: response.status, message: response.text.trim().slice(0, 200) };
      } catch (error) {
        return { peer: name, outcome: 'unreachable', message: error instanceof Error ? error.message : String(error) };
      }
    }));
  }

  /** Each peer's sealed state, for the report ("1 of 2 replicas sealed"). */
  async states(): Promise<PeerOutcome[]> {
    if (this.problem() !== null) return [];
    const peers = await this.list().catch(() => []);
    return Promise.all(peers.map(async (peer): Promise<PeerOutcome> => {
      const name = formatPeer(peer);
      try {
        const response = await this.#call(peer, 'GET', PEER_STATE_PATH, undefined, Math.min(this.#timeoutMs, 3000));
        if (response.status !== 200) return { peer: name, outcome: 'unreachable', status: response.status };
        const state = (JSON.parse(response.text) as { dataKeyState?: unknown }).dataKeyState;
        return { peer: name, outcome: state === 'ready' ? 'ready' : 'sealed' };
      } catch (error) {
        return { peer: name, outcome: 'unreachable', message: error instanceof Error ? error.message : String(error) };
      }
    }));
  }

  #call(peer: PeerAddress, method: string, path: string, body: string | undefined, timeoutMs = this.#timeoutMs): Promise<{ status: number; text: string }> {
    const { token, ca, serverName } = this.#credentials();
    return new Promise((resolve, reject) => {
      const req = request({
        host: peer.host,
        port: peer.port,
        // Checked against the certificate's names (not the address): only this space's gateway passes.
        servername: serverName,
        ca: ca ?? undefined,
        minVersion: 'TLSv1.2',
        method,
        path,
        agent: false,
        headers: {
          authorization: `Bearer ${token ?? ''}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
        },
        timeout: timeoutMs,
      }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.once('error', reject);
        response.once('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      });
      req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end(body);
    });
  }
}
