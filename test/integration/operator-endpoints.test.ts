/**
 * The operator's authenticated endpoints on the real API server (hardening items 10 and 15b), both
 * through the one authenticator (src/runtime/kube/request-auth.ts: TokenReview, SubjectAccessReview):
 *
 *  - the key service: a provider-custody gateway gets its data key with its ServiceAccount token
 *    (audience-bound, exactly `<space>-gateway` of the space's namespace); no Kubernetes object
 *    holds the plaintext key; a config Secret an older operator left with `data.key` is converted
 *    without losing the key; a real gateway waits, not ready, while the operator is away;
 *  - /metrics: on its own TLS port, 401 without a valid token, 403 for an identity without the
 *    metrics-reader permission, 200 with Prometheus text for one that has it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { keyIdOf } from '../../src/crypto/index.ts';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { Gateway } from '../../src/gateway/server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { freePort } from '../harness/ports.ts';
import { createReadyTenant, createSpace, ensureDatacenters, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, serviceAccountToken, uniqueName } from '../support/kube.ts';
import { loopbackKeyServiceArgs, OperatorProcess } from '../support/operator.ts';
import { expectAeadOnlyTls, httpsGet } from '../support/tls.ts';
import { ensureServiceAccount, gatewayKeyToken, metricsReaderToken } from '../support/tokens.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const tenants: string[] = [];
let operator: OperatorProcess;
let keyPort = 0;
let operatorCa = '';

/** The operator runs on loopback; the gateways are told its key service's loopback URL. */
async function startOperator(): Promise<OperatorProcess> {
  return OperatorProcess.start(kubeconfigPath, [
    '--namespace', operatorNamespace,
    '--gateway-image', 'registry.invalid/tenant-backup-operator:test',
    ...loopbackKeyServiceArgs(keyPort),
  ]);
}

async function newSpace(prefix: string, spaces: string[]): Promise<string> {
  const name = uniqueName(prefix);
  tenants.push(name);
  const { namespace } = await createReadyTenant(client, name, { quotas: { storage: '100Gi', spaces: 4, endpoints: 10 } });
  for (const space of spaces) await createSpace(client, space, namespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1 });
  for (const space of spaces) await waitForCondition<BackupSpace>(client, API.BackupSpace, space, namespace, 'Ready', 'True', undefined, 90_000);
  return namespace;
}

const gatewayToken = (namespace: string, space: string, audiences?: string[]) => gatewayKeyToken(client, namespace, space, audiences);

async function askKey(namespace: string, space: string, token?: string) {
  return httpsGet(keyPort, `/v1/spaces/${namespace}/${space}/key`, { ca: operatorCa, ...(token === undefined ? {} : { token }) });
}

async function keyIdOfSpace(namespace: string, space: string): Promise<string> {
  return (await readObject<BackupSpace>(client, API.BackupSpace, space, namespace))?.status?.keyId ?? '';
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  keyPort = await freePort();
  operator = await startOperator();
  const ca = await eventually('the operator CA', () => readObject<V1Secret>(client, K8S.Secret, 'tenant-backup-operator-ca', operatorNamespace));
  operatorCa = secretField(ca, 'tls.crt') ?? '';
});

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator.stop();
});

describe('the key service (hardening item 10)', () => {
  let namespace = '';
  beforeAll(async () => {
    namespace = await newSpace('keys', ['alpha', 'beta']);
  });

  it('hands a space\'s gateway its key, and no Secret or ConfigMap of the namespace holds it in any encoding', async () => {
    const answer = await askKey(namespace, 'alpha', await gatewayToken(namespace, 'alpha'));
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    const { keyId, dataKey } = JSON.parse(answer.text) as { keyId: string; dataKey: string };
    const key = Buffer.from(dataKey, 'base64');
    expect(key).toHaveLength(32);
    expect(keyIdOf(key)).toBe(await keyIdOfSpace(namespace, 'alpha'));
    expect(keyId).toBe(keyIdOf(key));

    const secrets = (await client.request<{ items: V1Secret[] }>({ method: 'GET', path: collectionPath(K8S.Secret, namespace) })).items;
    const configMaps = (await client.request<{ items: V1ConfigMap[] }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, namespace) })).items;
    expect(secrets.map((s) => s.metadata?.name)).toEqual(expect.arrayContaining(['alpha-key', 'alpha-gateway-config']));
    const stored = JSON.stringify([...secrets, ...configMaps]);
    const decoded = secrets.flatMap((s) => Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64'))).concat(configMaps.flatMap((c) => Object.values(c.data ?? {}).map((v) => Buffer.from(v))));
    for (const encoding of ['base64', 'base64url', 'hex'] as const) {
      expect(stored).not.toContain(key.toString(encoding));
      for (const value of decoded) expect(value.toString('latin1')).not.toContain(key.toString(encoding));
    }
    // Raw bytes, inside any stored value once decoded.
    for (const value of decoded) expect(value.includes(key)).toBe(false);
    expect(secretField(secrets.find((s) => s.metadata?.name === 'alpha-gateway-config'), 'data.key')).toBeUndefined();
    expect(await operator.logText()).not.toContain(dataKey);
    // The one TLS policy of every server (pki/tls-policy.ts): ECDHE + AEAD on TLS 1.2, TLS 1.3.
    await expectAeadOnlyTls(keyPort);
  });

  it('refuses another space\'s gateway (403), no or a garbage token (401), and a token for another audience (401)', async () => {
    const beta = await askKey(namespace, 'alpha', await gatewayToken(namespace, 'beta'));
    expect(beta.status).toBe(403);
    expect(beta.text).toContain(`system:serviceaccount:${namespace}:beta-gateway is not system:serviceaccount:${namespace}:alpha-gateway`);
    expect(beta.text).not.toMatch(/"dataKey"/);
    expect((await askKey(namespace, 'alpha')).status).toBe(401);
    expect((await askKey(namespace, 'alpha', 'garbage-token')).status).toBe(401);
    // The same ServiceAccount's token for the API server's audience is not a key-service token.
    expect((await askKey(namespace, 'alpha', await gatewayToken(namespace, 'alpha', []))).status).toBe(401);
    // A ServiceAccount of another namespace named like the gateway is someone else.
    const other = await newSpace('intruder', ['probe']);
    await ensureServiceAccount(client, other, 'alpha-gateway');
    expect((await askKey(namespace, 'alpha', await gatewayToken(other, 'alpha'))).status).toBe(403);
  });

  it('converts a config Secret that an older operator left with the plaintext key: the key goes, the wrapped key stays, the gateway still gets it', async () => {
    const keyId = await keyIdOfSpace(namespace, 'beta');
    const before = (JSON.parse((await askKey(namespace, 'beta', await gatewayToken(namespace, 'beta'))).text) as { dataKey: string }).dataKey;
    const keySecret = await readObject<V1Secret>(client, K8S.Secret, 'beta-key', namespace);
    // What the previous version wrote (data.key: base64 of the key's base64), under its own field manager.
    await client.request({
      method: 'PATCH',
      path: objectPath(K8S.Secret, 'beta-gateway-config', namespace),
      query: { fieldManager: 'tenant-backup-operator-0.1' },
      body: { data: { 'data.key': Buffer.from(before).toString('base64') } },
      contentType: CONTENT_TYPE.merge,
    });
    const converted = await eventually('the plaintext key to be removed', async () => {
      const secret = await readObject<V1Secret>(client, K8S.Secret, 'beta-gateway-config', namespace);
      return secret && secret.data?.['data.key'] === undefined ? secret : undefined;
    }, { timeoutMs: 60_000 });
    expect(secretField(converted, 'access.json')).toContain(keyId);
    // The key Secret is untouched, and the key still comes out of it unchanged: no data lost.
    const keyAfter = await readObject<V1Secret>(client, K8S.Secret, 'beta-key', namespace);
    expect(keyAfter?.data).toEqual(keySecret?.data);
    const after = JSON.parse((await askKey(namespace, 'beta', await gatewayToken(namespace, 'beta'))).text) as { keyId: string; dataKey: string };
    expect(after).toEqual({ keyId, dataKey: before });
    expect(await keyIdOfSpace(namespace, 'beta')).toBe(keyId);
  });

  it('a real gateway stays alive and not ready while the operator is away, then gets its key and serves', async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'gateway-config-'));
    const dataDir = await mkdtemp(join(tmpdir(), 'gateway-data-'));
    for (const name of ['alpha-gateway-config', 'alpha-gateway-tls']) {
      const secret = await readObject<V1Secret>(client, K8S.Secret, name, namespace);
      for (const file of Object.keys(secret?.data ?? {})) await writeFile(join(configDir, file), secretField(secret, file) ?? '');
    }
    const access = JSON.parse(secretField(await readObject<V1Secret>(client, K8S.Secret, 'alpha-gateway-config', namespace), 'access.json') ?? '{}') as GatewayAccessConfig;
    expect(access.space.encryptAtRest).toBe(true);
    const tokenFile = join(configDir, 'token');
    await writeFile(tokenFile, await gatewayToken(namespace, 'alpha'));

    await operator.stop();
    const lines: { level: string; msg: string }[] = [];
    const log = createLogger({ name: 'gateway', level: 'debug', destination: new Writable({ write(chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as { level: string; msg: string }); done(); } }) });
    const gateway = await Gateway.start({ configDir, dataDir, host: '127.0.0.1', port: 0, log, keyService: { url: `https://127.0.0.1:${keyPort}`, tokenFile }, keyServiceTiming: { baseMs: 200, maxMs: 1000 } });
    try {
      const port = gateway.address().port;
      await eventually('a few tries at the key service', async () => (lines.filter((l) => l.msg.startsWith('data key not obtained yet')).length >= 3 ? true : undefined), { timeoutMs: 20_000 });
      expect((await httpsGet(port, '/readyz')).status).toBe(503);
      expect((await httpsGet(port, '/healthz')).status).toBe(200);
      expect(gateway.context.vault.state).toBe('key-missing');
      // Logged once while the problem stays the same, not at every try.
      expect(lines.filter((l) => l.level === 'warn' && l.msg.startsWith('data key not obtained yet'))).toHaveLength(1);

      operator = await startOperator();
      await eventually('the gateway to be ready', async () => ((await httpsGet(port, '/readyz')).status === 200 ? true : undefined), { timeoutMs: 60_000 });
      expect(gateway.context.vault.state).toBe('ready');
      expect(keyIdOf(gateway.context.vault.dataKey ?? Buffer.alloc(0))).toBe(access.space.keyCustody.keyId);
    } finally {
      await gateway.stop();
    }
  });
});

describe('/metrics (hardening item 15b)', () => {
  it('answers 401 without or with an invalid token, 403 without the permission, Prometheus text with it; the probes need nothing', async () => {
    const ports = await operator.ports();
    if (!ports) throw new Error('operator not started');
    expect(ports.metrics).not.toBe(ports.probe);
    const none = await httpsGet(ports.metrics, '/metrics');
    expect(none.status).toBe(401);
    expect(none.text).not.toContain('controller_runtime');
    expect((await httpsGet(ports.metrics, '/metrics', { token: 'not-a-token' })).status).toBe(401);

    const stranger = uniqueName('no-metrics');
    await ensureServiceAccount(client, 'default', stranger);
    const refused = await httpsGet(ports.metrics, '/metrics', { token: await serviceAccountToken(client, stranger, 'default', 600) });
    expect(refused.status).toBe(403);
    expect(refused.text).toBe(`system:serviceaccount:default:${stranger} may not get /metrics`);

    const allowed = await httpsGet(ports.metrics, '/metrics', { token: await metricsReaderToken(client) });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['content-type']).toContain('text/plain');
    expect(allowed.text).toMatch(/^# HELP controller_runtime_reconcile_total /m);

    // The probe port serves the probes without credentials, and no metrics.
    expect((await httpsGet(ports.probe, '/healthz')).status).toBe(200);
    expect((await httpsGet(ports.probe, '/metrics')).status).toBe(404);
  });
});
