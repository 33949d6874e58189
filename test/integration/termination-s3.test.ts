/**
 * Termination to an S3-compatible bucket: a real SeaweedFS over real TLS with checked credentials
 * (test/e2e/export-seaweedfs.ts), the tenant's exportTarget naming the bucket, a credentials Secret
 * and a CA bundle ConfigMap in the provider's namespace, as a provider would set it up. The operator
 * reads them (never logging them), exports, verifies from the bucket, then destroys.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { verifyExport } from '../../src/export/index.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { base64 } from '../../src/runtime/kube/secrets.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { ensureDatacenters, mergePatch, readObject, removeTenant } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, uniqueName } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { SeaweedFs } from '../e2e/export-seaweedfs.ts';
import { tenantWithData, terminationRecord, waitForTerminationPhase } from './termination-fixture.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-term-s3');
const providerNamespace = uniqueName('provider');
const tenants: string[] = [];
let operator: OperatorProcess | undefined;
let s3: SeaweedFs | undefined;
let root: string;

beforeAll(async () => {
  s3 = await SeaweedFs.start();
  await s3.createBucket('customer-exports');
  await installCrds(client);
  await ensureDatacenters(client);
  for (const name of [operatorNamespace, providerNamespace]) await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name } } });
  const credentials = s3.connection.credentials;
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, providerNamespace), body: { metadata: { name: 's3-credentials' }, data: { accessKeyId: base64(credentials?.accessKeyId ?? ''), secretAccessKey: base64(credentials?.secretAccessKey ?? '') } } });
  await client.request({ method: 'POST', path: collectionPath(K8S.ConfigMap, providerNamespace), body: { metadata: { name: 's3-ca' }, data: { 'ca.crt': await readFile(s3.connection.caFile ?? '', 'utf8') } } });
  root = await mkdtemp(join(tmpdir(), 'termination-s3-volumes-'));
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--export-runner', 'local', '--export-local-root', root]);
}, 300_000);

afterAll(async () => {
  for (const name of tenants) await removeTenant(client, name);
  await operator?.stop();
  await s3?.stop();
});

describe('an S3 export target', () => {
  it('receives each space\'s archive, verified from the bucket before anything is destroyed; no credential is logged', async () => {
    const name = uniqueName('s3-ended');
    tenants.push(name);
    const { namespace } = await tenantWithData(client, root, name, [{ name: 'main', datacenter: 'it-mil1', endpoints: ['laptop'] }], {
      exportTarget: {
        s3: {
          endpoint: s3?.connection.endpoint ?? '',
          bucket: 'customer-exports',
          prefix: `terminations/${name}/`,
          region: 'us-east-1',
          credentialsSecretRef: { namespace: providerNamespace, name: 's3-credentials' },
          caBundle: { configMapRef: { namespace: providerNamespace, name: 's3-ca' } },
        },
      },
    });
    await mergePatch(client, API.Tenant, name, undefined, { spec: { contract: { state: 'Terminated' } } });
    const done = await waitForTerminationPhase(client, name, 'Done');
    expect(done.status?.termination?.exportVerified).toBe(true);

    const record = await terminationRecord(client, operatorNamespace, name);
    const space = record?.spaces[0];
    expect(space?.location).toMatch(new RegExp(`^s3://customer-exports/terminations/${name}/.+\\.tar$`));
    expect(record?.target).toBe(`s3://customer-exports/terminations/${name}/ at ${s3?.connection.endpoint}`);
    // The archive in the bucket checks out on its own, read back with the bucket's own credentials.
    const verified = await verifyExport(space?.location ?? '', { s3: s3?.connection });
    expect(verified).toMatchObject({ sha256: space?.sha256, size: space?.size });
    expect(await readObject(client, K8S.Namespace, namespace)).toBeUndefined();

    const logs = await operator?.logText() ?? '';
    expect(logs).not.toContain(s3?.connection.credentials?.secretAccessKey ?? '?');
    expect(logs).not.toContain(s3?.connection.credentials?.accessKeyId ?? '?');
  });
});
