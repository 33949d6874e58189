/**
 * Contract end on real pods (issue 11): a tenant's endpoints hold real restic backups made through
 * the gateway's Service; the contract is terminated; the operator runs the export as a Job pinned to
 * the space's datacenter, writing to a real S3 server in the cluster (SeaweedFS over TLS, checked
 * credentials), verifies it with a second Job, then destroys. The archive is read back from the
 * bucket and checked as a customer would; nothing of the tenant is left; the record stays.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { s3Client } from '../../src/export/s3.ts';
import { verifyExport } from '../../src/export/index.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { createEndpoint, createReadyTenant, createSpace, mergePatch, readObject } from '../support/cluster-objects.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { terminationRecord, waitForTerminationPhase } from '../integration/termination-fixture.ts';
import { deployClusterS3, S3PortForward, type ClusterS3 } from './object-storage.ts';
import { OPERATOR_NAMESPACE } from './release.ts';
import { backUpEndpoints, checkExportedArchive, client, createDeviceSecret, createNamespace, expectNothingOfTenantLeft, kubectlOk, readySpaceAndEndpoint, unsealThroughService } from './support.ts';

const tenant = uniqueName('kind-ended');
const ENDPOINTS = ['server1', 'laptop'];
/** The customer-custody space's device, and the password only the customer knows. */
const SEALED_ENDPOINTS = ['ws'];
const VAULT_PASSWORD = 'customer-only-password-kind-ended';
let namespace: string;
let s3: ClusterS3;
let forward: S3PortForward;
/** Per endpoint: the sorted `sha256sum` lines of the tree it backed up. */
let backedUp: Map<string, string>;
let backedUpSealed: Map<string, string>;

beforeAll(async () => {
  await kubectlOk(['apply', '-f', `${import.meta.dirname}/../../examples/01-datacenters.yaml`]);
  s3 = await deployClusterS3(inject('kindCluster'));
  forward = await S3PortForward.start(s3);
  await forward.createBucket('customer-exports');
  const provider = await createNamespace('provider');
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, provider), body: { metadata: { name: 's3-credentials' }, stringData: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey } } });
  await client.request({ method: 'POST', path: collectionPath(K8S.ConfigMap, provider), body: { metadata: { name: 's3-ca' }, data: { 'ca.crt': s3.caPem } } });

  ({ namespace } = await createReadyTenant(client, tenant, {
    residency: { countries: ['IT'] },
    quotas: { storage: '20Gi', spaces: 2, endpoints: 3 },
    security: { twoFactor: 'Optional', keyCustody: 'provider' },
    users: [{ name: 'anna', email: 'anna@example.com', role: 'admin' }],
    contract: {
      state: 'Active',
      exportTarget: {
        s3: {
          endpoint: s3.endpoint, bucket: 'customer-exports', prefix: `terminations/${tenant}/`, region: 'us-east-1',
          credentialsSecretRef: { namespace: provider, name: 's3-credentials' },
          caBundle: { configMapRef: { namespace: provider, name: 's3-ca' } },
        },
      },
    },
  }));
  await createSpace(client, 'files', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1, encryption: { atRest: true } });
  for (const endpoint of ENDPOINTS) await createEndpoint(client, endpoint, namespace, 'files', { kind: 'Server', os: 'Linux' });
  for (const endpoint of ENDPOINTS) await readySpaceAndEndpoint(namespace, 'files', endpoint);

  backedUp = await backUpEndpoints(namespace, 'files', ENDPOINTS);

  // The second space is the customer's to unseal: a tenant admin does it once through its Service.
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, namespace), body: { metadata: { name: 'vault-password' }, stringData: { password: VAULT_PASSWORD } } });
  await createSpace(client, 'vault', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1, encryption: { keyCustody: 'customer', customerPasswordSecretRef: { name: 'vault-password' }, atRest: true } });
  for (const endpoint of SEALED_ENDPOINTS) await createEndpoint(client, endpoint, namespace, 'vault', { kind: 'Desktop', os: 'Linux' });
  await eventually('the customer-custody space to be reported sealed', async () => ((await readObject<BackupSpace>(client, API.BackupSpace, 'vault', namespace))?.status?.phase === 'Sealed' ? true : undefined), { timeoutMs: 240_000 });
  const clients = await createNamespace('vault-unsealer');
  const unseal = await unsealThroughService(clients, namespace, await createDeviceSecret(clients, namespace, 'vault', SEALED_ENDPOINTS[0] ?? ''), 'anna', VAULT_PASSWORD);
  expect(unseal).toContain('unseal 200');
  for (const endpoint of SEALED_ENDPOINTS) await readySpaceAndEndpoint(namespace, 'vault', endpoint);
  backedUpSealed = await backUpEndpoints(namespace, 'vault', SEALED_ENDPOINTS);
}, 1_200_000);

afterAll(() => forward?.stop());

async function download(location: string, dir: string): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match?.[1] || !match[2]) throw new Error(`not an S3 location: ${location}`);
  const [bucket, key] = [match[1], match[2]];
  const file = join(dir, key.split('/').pop() ?? 'export.tar');
  for (const [suffix, path] of [['', file], ['.sha256', `${file}.sha256`]] as const) {
    const bytes = await forward.use(async (connection) => {
      const object = await s3Client(connection).send(new GetObjectCommand({ Bucket: bucket, Key: key + suffix }));
      return object.Body?.transformToByteArray() ?? new Uint8Array();
    });
    await writeFile(path, Buffer.from(bytes));
  }
  return file;
}

describe('a terminated contract on real pods', () => {
  it('exports each space by a Job to the S3 bucket, verified before anything is destroyed; restic restores identical trees; nothing of the tenant is left', async () => {
    await mergePatch(client, API.Tenant, tenant, undefined, { spec: { contract: { state: 'Terminated' } } });
    const done = await waitForTerminationPhase(client, tenant, 'Done', 900_000);
    expect(done.status?.termination?.exportVerified).toBe(true);

    const record = await terminationRecord(client, OPERATOR_NAMESPACE, tenant);
    expect(record?.spaces.map((s) => s.name).sort()).toEqual(['files', 'vault']);
    for (const space of record?.spaces ?? []) {
      expect(space.location).toMatch(new RegExp(`^s3://customer-exports/terminations/${tenant}/.+\\.tar$`));
      // Read back from the bucket: the operator's verification is repeated here, independently.
      const verified = await forward.use((connection) => verifyExport(space.location ?? '', { s3: connection }));
      expect(verified).toMatchObject({ sha256: space.sha256, size: space.size });
      const dir = await mkdtemp(join(tmpdir(), 'kind-export-'));
      const archive = await download(space.location ?? '', dir);
      expect(createHash('sha256').update(await readFile(archive)).digest('hex')).toBe(space.sha256);
      // The customer's space leaves sealed: only its password, with our offline command, opens it.
      if (space.name === 'vault') await checkExportedArchive(archive, dir, backedUpSealed, VAULT_PASSWORD);
      else await checkExportedArchive(archive, dir, backedUp);
    }
    await expectNothingOfTenantLeft(tenant, namespace, record);
  }, 1_200_000);
});
