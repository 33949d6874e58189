/**
 * A device's enrolment (issue 12 item 17): the operator mints each Endpoint an activation code
 * with an expiry and seals the device's credential under it; a real gateway process on what the
 * operator rendered exchanges the code, once, for the credential, the repository URL and the CA
 * that signs the gateway's certificate — with which the real restic client then backs up. A second
 * exchange, an expired code and wrong codes are refused, the last through the sign-in throttle.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Endpoint } from '../../src/api/types.ts';
import { generateActivationCode } from '../../src/crypto/index.ts';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { ZONE_LABEL } from '../harness/topology.ts';
import { freePorts } from '../harness/ports.ts';
import { createEndpoint, createObject, createReadyTenant, createSpace, ensureDatacenters, eventualSecret, mergePatch, readObject, removeTenant, requiredSecretField, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, uniqueName } from '../support/kube.ts';
import { datacenter } from '../support/objects.ts';
import { loopbackKeyServiceArgs, OperatorProcess } from '../support/operator.ts';
import { run } from '../support/run.ts';
import { gatewayKeyToken } from '../support/tokens.ts';
import { GatewayFixture, expectSuccess, type FetchResult, type Secrets } from './gateway-fixture.ts';
import { writeRenderedGatewayFiles } from './operator-rendered.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const tenant = uniqueName('enrol');
const namespace = `tenant-${tenant}`;
// A datacenter of this file only, with a loopback pool: the certificate the operator issues names 127.0.0.1.
const DATACENTER = uniqueName('enrol-dc');

let operator: OperatorProcess;
let gateway: GatewayFixture;
let work: string;

const credentials = (endpoint: string): Promise<V1Secret> => eventualSecret(client, namespace, `endpoint-${endpoint}-credentials`);
const enrol = (endpoint: string, code: string): Promise<FetchResult> =>
  gateway.fetch('/v1/enrol', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ endpoint, code }) });

/** The rendered access configuration, once `test` holds for it. */
async function renderedAccess(what: string, test: (access: GatewayAccessConfig) => boolean): Promise<GatewayAccessConfig> {
  return eventually(what, async () => {
    const config = await readObject<V1Secret>(client, K8S.Secret, 'main-gateway-config', namespace);
    const access = config ? JSON.parse(requiredSecretField(config, 'access.json')) as GatewayAccessConfig : undefined;
    return access && test(access) ? access : undefined;
  }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await createObject(client, API.Datacenter, datacenter(DATACENTER, 'IT', { nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-mil1' } }, addressPool: { addresses: ['127.0.0.1'] } }));
  work = await mkdtemp(join(tmpdir(), 'enrolment-operator-'));
  const [port = 0, keyPort = 0] = await freePorts(2);
  const operatorNamespace = uniqueName('tb-system');
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--report-interval', '2s', '--gateway-address', `${namespace}/main=127.0.0.1:${port}`, ...loopbackKeyServiceArgs(keyPort)]);
  await createReadyTenant(client, tenant, { residency: { countries: ['IT'] }, quotas: { storage: '100Gi', spaces: 1, endpoints: 3 } });
  await createSpace(client, 'main', namespace, { size: '5Gi', datacenter: DATACENTER, fixedAddress: { ip: '127.0.0.1' } });
  for (const name of ['laptop', 'phone', 'nas']) await createEndpoint(client, name, namespace, 'main', { kind: 'Desktop', os: 'Linux' });
  await waitForCondition<Endpoint>(client, API.Endpoint, 'nas', namespace, 'Ready', 'True', undefined, 90_000);
  await renderedAccess('the three enrolments in the rendered configuration', (access) => access.endpoints.filter((e) => e.enrolment).length === 3);
  const access = await writeRenderedGatewayFiles(client, namespace, 'main', work);
  const secrets: Secrets = {
    endpoints: {},
    maintenance: { username: 'maintenance', secret: '' },
    reportToken: requiredSecretField(await eventualSecret(client, namespace, 'main-report-token'), 'password'),
    users: {},
    customerPassword: '',
    dataKey: Buffer.alloc(0),
    peerToken: '',
  };
  // As the Deployment runs it: the provider-custody data key comes from the operator's key service,
  // asked with the gateway ServiceAccount's token (no data.key is ever rendered).
  const tokenFile = join(work, 'key-token');
  await writeFile(tokenFile, await gatewayKeyToken(client, namespace, 'main'));
  gateway = await GatewayFixture.onConfig(work, access, secrets, { port, args: ['--key-service-url', `https://127.0.0.1:${keyPort}`, '--key-token-file', tokenFile] });
  await eventually('the gateway to get its data key and be ready', async () => ((await gateway.fetch('/readyz')).status === 200 ? true : undefined), { timeoutMs: 30_000 });
});

afterAll(async () => {
  await gateway?.close();
  await operator?.stop();
  await removeTenant(client, tenant);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a device enrolled with its activation code', () => {
  it('finds the CA that signs the gateway\'s certificate and the code\'s expiry in its credentials Secret', async () => {
    const secret = await credentials('laptop');
    const tls = await eventualSecret(client, namespace, 'main-gateway-tls');
    expect(requiredSecretField(secret, 'ca.crt')).toBe(requiredSecretField(tls, 'ca.crt'));
    const expires = Date.parse(requiredSecretField(secret, 'activationExpiresAt'));
    expect(expires - Date.now()).toBeGreaterThan(6 * 24 * 3600_000);
    expect(requiredSecretField(secret, 'enrolment')).not.toContain(requiredSecretField(secret, 'password'));
  });

  it('exchanges the code once for working credentials; the second exchange is refused', async () => {
    const secret = await credentials('laptop');
    const answer = await enrol('laptop', requiredSecretField(secret, 'activationCode').toLowerCase());
    expect(answer.status, answer.text).toBe(200);
    const enrolled = JSON.parse(answer.text) as { username: string; password: string; repository: string; caCertificate: string };
    expect(enrolled).toMatchObject({ username: 'laptop', password: requiredSecretField(secret, 'password'), repository: requiredSecretField(secret, 'repository') });
    // The device verifies the gateway with the CA it was given, and authenticates with what it was given.
    await writeFile(join(work, 'enrolled-ca.crt'), enrolled.caCertificate);
    const url = new URL(enrolled.repository.replace(/^rest:/, ''));
    expect(url.hostname).toBe('127.0.0.1');
    // The operator renders the address devices see (port 8443); this test's gateway listens on a free port.
    url.port = String(gateway.port);
    url.username = enrolled.username;
    url.password = enrolled.password;
    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'notes.txt'), 'enrolled device\n'.repeat(1000));
    const restic = (args: string[]) => run('restic', ['--repo', `rest:${url.toString()}`, '--cacert', join(work, 'enrolled-ca.crt'), '--cache-dir', join(work, 'restic-cache'), ...args], { env: { ...process.env, RESTIC_PASSWORD: 'device-side-password' }, timeoutMs: 120_000 });
    expectSuccess(await restic(['init']), 'restic init with the enrolled credentials');
    expectSuccess(await restic(['backup', source]), 'restic backup with the enrolled credentials');

    const again = await enrol('laptop', requiredSecretField(secret, 'activationCode'));
    expect(again.status).toBe(410);
    expect(again.text).toContain('already used');
    expect(again.text).not.toContain(enrolled.password);
  });

  it('refuses an expired code', async () => {
    const secret = await credentials('phone');
    const past = new Date(Date.now() - 60_000).toISOString();
    await mergePatch(client, K8S.Secret, 'endpoint-phone-credentials', namespace, { data: { activationExpiresAt: Buffer.from(past).toString('base64') } });
    const access = await renderedAccess('the expiry in the rendered configuration', (a) => a.endpoints.find((e) => e.name === 'phone')?.enrolment?.expiresAt === past);
    await gateway.writeAccess(access);
    await eventually('the gateway to refuse the expired code', async () => {
      const answer = await enrol('phone', requiredSecretField(secret, 'activationCode'));
      return answer.status === 410 && answer.text.includes('expired') ? true : undefined;
    }, { timeoutMs: 20_000 });
  });

  it('counts wrong codes against the sign-in throttle, which then refuses even the right code', async () => {
    const secret = await credentials('nas');
    const right = requiredSecretField(secret, 'activationCode');
    let wrong = generateActivationCode();
    while (wrong === right) wrong = generateActivationCode();
    // The throttle's allowance is 5 failures per name; the 6th locks it.
    for (let i = 0; i < 6; i++) expect((await enrol('nas', wrong)).status).toBe(401);
    const locked = await enrol('nas', right);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(gateway.logs).not.toContain(right);
    expect(gateway.logs).not.toContain(wrong);
    expect(await operator.logText()).not.toContain(right);
  });
});
