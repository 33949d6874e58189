/**
 * Unsealing reaches every replica (issue 12 item 9): two and three real gateway processes on one
 * config dir and one data dir, as a space's pods share its config Secret and volume, each told the
 * others with --peers. An admin unseals through one of them; every one then serves the real restic
 * client. The relay is refused with a wrong peer token or a wrong password, a replica that is down
 * does not fail the unseal for the others, and a replica that starts later starts sealed and is
 * unsealed by the next unseal, whichever replica takes it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '../../src/crypto/index.ts';
import { freePorts } from '../harness/ports.ts';
import { GatewayFixture, closeReplicas, expectSuccess, restic, startReplicas, type FixtureOptions } from './gateway-fixture.ts';

const ENDPOINT = 'laptop-07';
/** The space every test here serves: customer custody, one admin signing in with a password. */
const SPACE = {
  endpoints: [{ name: ENDPOINT }],
  custody: 'customer',
  encryptAtRest: true,
  humansPolicy: 'one-factor',
  users: [{ name: 'alice', role: 'admin' }],
  scrypt: TEST_SCRYPT_PARAMS,
} satisfies FixtureOptions;

interface UnsealAnswer {
  status: number;
  body: { state?: string; replicas?: { total: number; ready: number; peers: { peer: string; outcome: string }[] } };
}

async function unsealThrough(replica: GatewayFixture, password: string): Promise<UnsealAnswer> {
  const token = await replica.signIn('alice');
  const response = await replica.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password }) });
  return { status: response.status, body: response.status === 200 ? JSON.parse(response.text) as UnsealAnswer['body'] : {} };
}

/** A call one replica would make on another, with a token and password of the test's choosing. */
async function peerUnseal(replica: GatewayFixture, token: string, password: string): Promise<number> {
  const response = await replica.fetch('/v1/peer/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password }) });
  return response.status;
}

async function states(replicas: readonly GatewayFixture[]): Promise<string[]> {
  return Promise.all(replicas.map(async (r) => (await r.report()).gateway.dataKeyState));
}

describe.each([2, 3])('a customer-custody space with %i gateway replicas', (count) => {
  const replicas: GatewayFixture[] = [];
  let work: string;

  beforeAll(async () => {
    replicas.push(...await startReplicas(count, SPACE));
    work = await mkdtemp(join(tmpdir(), 'gateway-peers-'));
  });

  afterAll(async () => {
    await closeReplicas(replicas);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('starts every replica sealed, and each reports how many of the replicas are sealed', async () => {
    expect(await states(replicas)).toEqual(replicas.map(() => 'sealed'));
    for (const replica of replicas) {
      expect((await replica.report()).gateway.replicas).toEqual({ total: count, sealed: count, unreachable: 0 });
      expect((await replica.fetch(`/${ENDPOINT}/config`, { headers: replica.endpointAuth(ENDPOINT) })).status).toBe(503);
    }
  });

  it('refuses a relay with a wrong peer token, even with the right password, and a relayed wrong password', async () => {
    const target = replicas[1] as GatewayFixture;
    expect(await peerUnseal(target, randomBytes(32).toString('base64url'), target.secrets.customerPassword)).toBe(401);
    expect(await peerUnseal(target, '', target.secrets.customerPassword)).toBe(401);
    expect(await peerUnseal(target, target.secrets.peerToken, 'not-the-customer-password')).toBe(401);
    // A person's session is no peer token either.
    expect(await peerUnseal(target, await target.signIn('alice'), target.secrets.customerPassword)).toBe(401);
    expect(await states(replicas)).toEqual(replicas.map(() => 'sealed'));
    // The refusals name no secret.
    for (const replica of replicas) expect(replica.logs).not.toContain(replica.secrets.customerPassword);
  });

  it('unseals every replica through one; a replica that is down does not fail it for the others', async () => {
    const down = count > 2 ? (replicas[count - 1] as GatewayFixture) : undefined;
    if (down) expect(await down.stopProcess()).toBe(0);
    const answer = await unsealThrough(replicas[0] as GatewayFixture, (replicas[0] as GatewayFixture).secrets.customerPassword);
    expect(answer.status).toBe(200);
    const up = down ? replicas.slice(0, -1) : replicas;
    expect(answer.body.replicas).toMatchObject({ total: count, ready: up.length });
    expect(await states(up)).toEqual(up.map(() => 'ready'));
    if (down) {
      expect(answer.body.replicas?.peers.find((p) => p.peer.endsWith(`:${down.port}`))?.outcome).toBe('unreachable');
      expect((await (replicas[0] as GatewayFixture).report()).gateway.replicas).toEqual({ total: count, sealed: 0, unreachable: 1 });
      // Back again, it starts sealed: the key is never pulled from a peer.
      await down.startProcess();
      expect((await down.report()).gateway.dataKeyState).toBe('sealed');
      expect((await (replicas[0] as GatewayFixture).report()).gateway.replicas).toEqual({ total: count, sealed: 1, unreachable: 0 });
      // The next unseal, taken by the late replica itself, reaches it and the others alike.
      const again = await unsealThrough(down, down.secrets.customerPassword);
      expect(again.status).toBe(200);
      expect(again.body.replicas).toMatchObject({ total: count, ready: count });
    }
    expect(await states(replicas)).toEqual(replicas.map(() => 'ready'));
    for (const replica of replicas) {
      expect((await replica.report()).gateway.replicas).toEqual({ total: count, sealed: 0, unreachable: 0 });
      expect(replica.logs).not.toContain(replica.secrets.customerPassword);
    }
  });

  it('serves the real restic client through every replica: a backup through each, the same snapshots listed by all', async () => {
    const first = replicas[0] as GatewayFixture;
    expectSuccess(await restic(first, first.repositoryUrl(ENDPOINT), ['init']), 'init');
    for (const [i, replica] of replicas.entries()) {
      const source = join(work, `tree-${i}`);
      await mkdir(source, { recursive: true });
      await writeFile(join(source, 'data.bin'), randomBytes(300_000));
      expectSuccess(await restic(replica, replica.repositoryUrl(ENDPOINT), ['backup', '--host', `replica-${i}`, source]), `backup through replica ${i}`);
    }
    for (const [i, replica] of replicas.entries()) {
      const listed = expectSuccess(await restic(replica, replica.repositoryUrl(ENDPOINT), ['snapshots', '--json', '--no-lock']), `snapshots through replica ${i}`);
      const hosts = (JSON.parse(listed.stdout) as { hostname: string }[]).map((s) => s.hostname).sort();
      expect(hosts).toEqual(replicas.map((_, j) => `replica-${j}`));
    }
    expectSuccess(await restic(replicas[count - 1] as GatewayFixture, (replicas[count - 1] as GatewayFixture).repositoryUrl(ENDPOINT), ['check', '--read-data']), 'check');
  });
});

/** An HTTPS server on loopback with the given certificate, counting the requests it receives. */
async function impostor(cert: Buffer, key: Buffer, port: number): Promise<{ server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer({ cert, key }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"state":"ready"}');
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { server, requests };
}

describe('a peer that cannot prove it is this space\'s gateway gets no password', () => {
  const openssl = async (args: string[], cwd: string) => promisify(execFile)('openssl', args, { cwd });
  let gateway: GatewayFixture;
  const impostors: { server: Server; requests: string[] }[] = [];

  beforeAll(async () => {
    const ports = await freePorts(3);
    gateway = await GatewayFixture.start({
      ...SPACE,
      peering: true,
      port: ports[0],
      args: ['--peers', ports.map((port) => `127.0.0.1:${port}`).join(',')],
    });
    const dir = gateway.dir;
    // Signed by the same CA, but for another name (another space's gateway would look like this).
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'other.csr', '-subj', '/CN=localhost'], dir);
    await writeFile(join(dir, 'other.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:space-2-gateway.tenant-acme.svc\n');
    await openssl(['x509', '-req', '-in', 'other.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'other.crt', '-days', '1', '-extfile', 'other.ext'], dir);
    // The right name, but not from the space CA.
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.crt', '-days', '1', '-subj', '/CN=space-1-gateway.tenant-acme.svc', '-addext', 'subjectAltName=DNS:space-1-gateway.tenant-acme.svc,IP:127.0.0.1'], dir);
    impostors.push(await impostor(await readFile(join(dir, 'other.crt')), await readFile(join(dir, 'other.key')), ports[1] as number));
    impostors.push(await impostor(await readFile(join(dir, 'self.crt')), await readFile(join(dir, 'self.key')), ports[2] as number));
  });

  afterAll(async () => {
    for (const { server } of impostors) await new Promise((done) => server.close(done));
    await gateway?.close();
  });

  it('unseals itself, sends nothing to either impostor, and says they were not reached', async () => {
    const answer = await unsealThrough(gateway, gateway.secrets.customerPassword);
    expect(answer.status).toBe(200);
    expect(answer.body.replicas?.peers.map((p) => p.outcome)).toEqual(['unreachable', 'unreachable']);
    expect(impostors.map((i) => i.requests)).toEqual([[], []]);
    expect((await gateway.report()).gateway.dataKeyState).toBe('ready');
  });
});

describe('relayed and direct unseals share one bound on wrong passwords', () => {
  let gateway: GatewayFixture;

  beforeAll(async () => {
    gateway = await GatewayFixture.start({ ...SPACE, peering: true });
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('after wrong passwords on the peer route, the admin\'s right one waits too (429, Retry-After), then unseals', async () => {
    for (let i = 0; i < 4; i++) expect(await peerUnseal(gateway, gateway.secrets.peerToken, `wrong-${i}`)).toBe(401);
    const token = await gateway.signIn('alice');
    const unseal = () => gateway.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password: gateway.secrets.customerPassword }) });
    const throttled = await unseal();
    expect(throttled.status).toBe(429);
    const wait = Number(throttled.headers['retry-after']);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(await peerUnseal(gateway, gateway.secrets.peerToken, gateway.secrets.customerPassword)).toBe(429);
    expect((await gateway.report()).gateway.dataKeyState).toBe('sealed');
    await new Promise((done) => setTimeout(done, wait * 1000 + 100));
    expect((await unseal()).status).toBe(200);
    expect((await gateway.report()).gateway.dataKeyState).toBe('ready');
  });
});
