/**
 * Customer key custody (S6): the gateway holds no key until a tenant admin unseals it with the
 * customer's password; until then no data is served, and after a restart it is sealed again.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayFixture, expectSuccess, hashTree, restic } from './gateway-fixture.ts';

const ENDPOINT = 'desktop-04';

let fixture: GatewayFixture;
let work: string;

beforeAll(async () => {
  fixture = await GatewayFixture.start({
    endpoints: [{ name: ENDPOINT }],
    custody: 'customer',
    encryptAtRest: true,
    humansPolicy: 'one-factor',
    users: [{ name: 'alice', role: 'admin', totp: true }, { name: 'olga', role: 'operator' }],
  });
  work = await mkdtemp(join(tmpdir(), 'gateway-sealed-'));
  await writeFile(join(work, 'data.bin'), randomBytes(500_000));
});

afterAll(async () => {
  await fixture?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function unseal(token: string, password: string): Promise<number> {
  const response = await fixture.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password }) });
  return response.status;
}

async function dataKeyState(): Promise<string> {
  return (await fixture.report()).gateway.dataKeyState;
}

describe('sealed gateway (customer key custody)', () => {
  it('refuses data while sealed, with a clear message, but stays ready for the unseal route', async () => {
    const response = await fixture.fetch(`/${ENDPOINT}/config`, { method: 'HEAD', headers: fixture.endpointAuth(ENDPOINT) });
    expect(response.status).toBe(503);
    const get = await fixture.fetch(`/${ENDPOINT}/keys/`, { headers: fixture.endpointAuth(ENDPOINT) });
    expect(get.status).toBe(503);
    expect(get.text).toMatch(/sealed.*unseal/);
    expect((await restic(fixture, fixture.repositoryUrl(ENDPOINT), ['init'])).code).not.toBe(0);
    expect(JSON.parse((await fixture.fetch('/readyz')).text)).toMatchObject({ status: 'ok', dataKeyState: 'sealed' });
    // Credentials are still checked first: a stranger learns nothing.
    expect((await fixture.fetch(`/${ENDPOINT}/keys/`)).status).toBe(401);
  });

  it('refuses a wrong customer password and non-admins', async () => {
    const token = await fixture.signIn('alice', fixture.totpCode('alice'));
    expect(await unseal(token, 'not-the-customer-password')).toBe(401);
    expect(await dataKeyState()).toBe('sealed');
    const operator = await fixture.signIn('olga');
    expect(await unseal(operator, fixture.secrets.customerPassword)).toBe(403);
    expect(await dataKeyState()).toBe('sealed');
  });

  it('serves data once an admin unseals with the right password', async () => {
    const token = await fixture.signIn('alice', fixture.totpCode('alice', 1));
    expect(await unseal(token, fixture.secrets.customerPassword)).toBe(200);
    expect(await dataKeyState()).toBe('ready');
    const url = fixture.repositoryUrl(ENDPOINT);
    expectSuccess(await restic(fixture, url, ['init']), 'init');
    expectSuccess(await restic(fixture, url, ['backup', work]), 'backup');
    expectSuccess(await restic(fixture, url, ['check', '--read-data']), 'check');
  });

  it('is sealed again after a restart, and the data comes back after unsealing', async () => {
    expect(await fixture.stopProcess()).toBe(0);
    await fixture.startProcess();
    expect((await fixture.fetch(`/${ENDPOINT}/config`, { headers: fixture.endpointAuth(ENDPOINT) })).status).toBe(503);
    // One-factor policy, but alice is enrolled: her code is still required.
    const token = await fixture.signIn('alice', fixture.totpCode('alice'));
    expect(await unseal(token, fixture.secrets.customerPassword)).toBe(200);
    const target = join(work, '..', `restored-${randomBytes(4).toString('hex')}`);
    try {
      expectSuccess(await restic(fixture, fixture.repositoryUrl(ENDPOINT), ['restore', 'latest', '--target', target]), 'restore');
      expect(await hashTree(join(target, work))).toEqual(await hashTree(work));
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });
});
