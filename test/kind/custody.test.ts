/**
 * A customer-custody space on real pods (S6): its two gateway replicas start sealed; a tenant admin
 * signs in with password and TOTP and unseals it through the space's Service, whichever replica answers;
 * then every replica serves, and the real restic client backs up through the Service.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, readObject, waitForCondition } from '../support/cluster-objects.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { AWAIT_GATEWAY, BACKUP_AND_RESTORE, client, createDeviceSecret, createNamespace, kubectlOk, readyGatewayPods, runScript, unsealThroughService } from './support.ts';

const tenant = uniqueName('kind-vault');
const PASSWORD = 'customer-only-password-kind';
let namespace: string;
let clients: string;
let deviceSecret: string;

/** In a client pod: the HTTP status each gateway replica answers a device's HEAD of its repository config. */
async function replicaStatuses(pods: V1Pod[]): Promise<string> {
  const host = `vault-gateway.${namespace}.svc`;
  const run = await runScript(clients, `${AWAIT_GATEWAY}
node -e '
const https = require("https"), fs = require("fs");
const auth = Buffer.from(process.env.RESTIC_USER + ":" + process.env.RESTIC_SECRET).toString("base64");
for (const ip of "${pods.map((pod) => pod.status?.podIP).join(' ')}".split(" ")) {
  https.request({ host: ip, port: 8443, method: "HEAD", path: "/" + process.env.RESTIC_USER + "/config", servername: "${host}", ca: fs.readFileSync("/creds/ca.crt"), headers: { authorization: "Basic " + auth } },
    (res) => console.log("replica " + ip + " " + res.statusCode)).on("error", (e) => console.log("replica " + ip + " error " + e.message)).end();
}'`, { secretEnv: { secret: deviceSecret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret: deviceSecret, mountPath: '/creds' } });
  return run.logs;
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', `${import.meta.dirname}/../../examples/01-datacenters.yaml`]);
  ({ namespace } = await createReadyTenant(client, tenant, {
    residency: { countries: ['DE'] },
    quotas: { storage: '20Gi', spaces: 1, endpoints: 2 },
    security: { twoFactor: 'Required', keyCustody: 'customer' },
    users: [{ name: 'anna', email: 'anna@example.com', role: 'admin' }],
  }));
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, namespace), body: { metadata: { name: 'vault-password' }, stringData: { password: PASSWORD } } });
  await createSpace(client, 'vault', namespace, { size: '1Gi', datacenter: 'de-fra1', replicas: 2, encryption: { customerPasswordSecretRef: { name: 'vault-password' }, atRest: true } });
  await createEndpoint(client, 'ws', namespace, 'vault', { kind: 'Desktop', os: 'Linux' });
  await waitForCondition(client, API.Endpoint, 'ws', namespace, 'Ready', 'True', undefined, 240_000);
  await eventually('two running gateway replicas', async () => ((await readyGatewayPods(namespace, 'vault')).length === 2 ? true : undefined), { timeoutMs: 240_000 });
  clients = await createNamespace('vault-clients');
  deviceSecret = await createDeviceSecret(clients, namespace, 'vault', 'ws');
}, 600_000);

describe('a customer-custody space on real pods', () => {
  it('is sealed on every replica until unsealed', async () => {
    const space = await eventually('the space to be reported sealed', async () => {
      const s = await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace);
      return s?.status?.phase === 'Sealed' ? s : undefined;
    }, { timeoutMs: 120_000 });
    expect(space.status?.phase).toBe('Sealed');
    const statuses = await replicaStatuses(await readyGatewayPods(namespace, 'vault'));
    expect(statuses.match(/ 503/g)).toHaveLength(2);
  });

  it('unsealed once through its Service by a tenant admin with password and TOTP, serves on both replicas', async () => {
    const unseal = await unsealThroughService(clients, namespace, deviceSecret, 'anna', PASSWORD);
    expect(unseal).toContain('session 200');
    expect(unseal).toContain('unseal 200');

    const backup = await runScript(clients, BACKUP_AND_RESTORE, { secretEnv: { secret: deviceSecret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret: deviceSecret, mountPath: '/creds' }, timeoutMs: 300_000 });
    expect(backup.logs).toContain('RESTORE-IDENTICAL');
    // Every replica now serves the repository the backup made (200), none is sealed (503).
    const statuses = await replicaStatuses(await readyGatewayPods(namespace, 'vault'));
    expect(statuses.match(/ 200/g), statuses).toHaveLength(2);
    await eventually('the space to be reported Ready', async () => ((await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace))?.status?.phase === 'Ready' ? true : undefined), { timeoutMs: 120_000 });
  });
});
