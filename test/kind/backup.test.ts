/**
 * Backups on real pods: a space's gateway replicas on distinct nodes of its datacenter sharing one
 * volume, and the real restic client backing up and restoring through the space's Service with an
 * endpoint's own credentials, from a pod of a provider namespace (the allowed ingress path).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Endpoint } from '../../src/api/types.ts';
import { K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, readObject } from '../support/cluster-objects.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { AWAIT_GATEWAY, BACKUP_AND_RESTORE, client, createDeviceSecret, createNamespace, kubectlOk, readyGatewayPods, readySpaceAndEndpoint, runScript, secretValue } from './support.ts';

const tenant = uniqueName('kind-files');
let namespace: string;
let clients: string;

function deviceSecret(endpoint: string, password?: string): Promise<string> {
  return createDeviceSecret(clients, namespace, 'files', endpoint, password);
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', `${import.meta.dirname}/../../examples/01-datacenters.yaml`]);
  ({ namespace } = await createReadyTenant(client, tenant, {
    residency: { countries: ['IT'] },
    quotas: { storage: '50Gi', spaces: 2, endpoints: 4 },
    security: { twoFactor: 'Optional', keyCustody: 'provider' },
  }));
  await createSpace(client, 'files', namespace, { size: '2Gi', datacenter: 'it-mil1', replicas: 2, encryption: { atRest: true } });
  await createEndpoint(client, 'server1', namespace, 'files', { kind: 'Server', os: 'Linux' });
  await createEndpoint(client, 'laptop', namespace, 'files', { kind: 'Desktop', os: 'Linux' });
  await readySpaceAndEndpoint(namespace, 'files', 'server1');
  await readySpaceAndEndpoint(namespace, 'files', 'laptop');
  clients = await createNamespace('backup-clients');
}, 600_000);

describe('a space served by real gateway pods', () => {
  it('runs its two replicas on distinct nodes of its datacenter, both on the one volume', async () => {
    const pods = await eventually('two ready gateway pods', async () => {
      const ready = await readyGatewayPods(namespace, 'files');
      return ready.length === 2 ? ready : undefined;
    }, { timeoutMs: 240_000 });
    const nodes = pods.map((pod) => pod.spec?.nodeName ?? '');
    expect(new Set(nodes).size).toBe(2);
    for (const node of nodes) {
      const labels = (await readObject<{ metadata: { labels: Record<string, string> } }>(client, K8S.Node, node))?.metadata.labels ?? {};
      expect(labels['topology.kubernetes.io/zone']).toBe('it-mil1');
      expect(labels['tenantbackup.io/country']).toBe('IT');
    }
    const claims = pods.map((pod) => pod.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName);
    expect(claims[0]).toBeDefined();
    expect(claims[1]).toBe(claims[0]);
  });

  it('takes a restic backup through the Service with the endpoint\'s own credentials and restores it byte-identical', async () => {
    const secret = await deviceSecret('server1');
    const run = await runScript(clients, BACKUP_AND_RESTORE, {
      secretEnv: { secret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret, mountPath: '/creds' }, timeoutMs: 300_000,
    });
    expect(run.logs).toContain('RESTORE-IDENTICAL');
    expect(run.phase).toBe('Succeeded');
    // The operator reached the gateways over the pod network and reports the backup.
    const endpoint = await eventually('the backup in the endpoint\'s status', async () => {
      const e = await readObject<Endpoint>(client, API.Endpoint, 'server1', namespace);
      return e?.status?.lastBackupTime && (e.status.bytesStored ?? 0) > 3 * 1024 * 1024 ? e : undefined;
    }, { timeoutMs: 180_000 });
    expect(endpoint.status?.activation).toBe('Active');
  });

  it('refuses one device\'s repository to another device\'s credentials', async () => {
    const laptopPassword = await secretValue(namespace, 'endpoint-laptop-credentials', 'password');
    const secret = await deviceSecret('server1', laptopPassword);
    const run = await runScript(clients, `${AWAIT_GATEWAY}
restic --repo "$(echo "$RESTIC_URL" | sed "s|rest:https://|rest:https://$RESTIC_USER:$RESTIC_SECRET@|")" --cacert /creds/ca.crt --no-cache snapshots; echo "exit $?"`, {
      env: { RESTIC_PASSWORD: 'client-side-password' }, secretEnv: { secret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret, mountPath: '/creds' },
    });
    expect(run.logs).toMatch(/401|unauthori[sz]ed|Unauthorized/i);
    expect(run.logs).not.toMatch(/exit 0/);
  });
});
