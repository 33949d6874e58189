/**
 * Contract end on real pods (issue 11): a tenant's endpoints hold real restic backups made through
 * the gateway's Service; the contract is terminated; the operator runs the export as a Job pinned to
 * the space's datacenter, writing to a real S3 server in the cluster (SeaweedFS over TLS, checked
 * credentials), verifies it with a second Job, then destroys. The archive is read back from the
 * bucket and checked as a customer would; nothing of the tenant is left; the record stays.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { s3Client } from '../../src/export/s3.ts';
import { verifyExport } from '../../src/export/index.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, mergePatch, readObject } from '../support/cluster-objects.ts';
import { uniqueName } from '../support/kube.ts';
import { run } from '../support/run.ts';
import { terminationRecord, waitForTerminationPhase } from '../integration/termination-fixture.ts';
import { deployClusterS3, S3PortForward, type ClusterS3 } from './object-storage.ts';
import { OPERATOR_NAMESPACE } from './release.ts';
import { AWAIT_GATEWAY, client, createDeviceSecret, createNamespace, kubectlOk, readySpaceAndEndpoint, runScript } from './support.ts';

const tenant = uniqueName('kind-ended');
const ENDPOINTS = ['server1', 'laptop'];
const RESTIC_PASSWORD = 'client-side-password';
let namespace: string;
let s3: ClusterS3;
let forward: S3PortForward;
/** Per endpoint: the sorted `sha256sum` lines of the tree it backed up. */
const backedUp = new Map<string, string>();

/** Backs up a tree of its own from a client pod and prints its checksums between markers. */
const BACKUP = `set -eu
${AWAIT_GATEWAY}
mkdir -p /tmp/src/sub
head -c 2097152 /dev/urandom > /tmp/src/random.bin
echo "$RESTIC_USER $(date +%s%N)" > /tmp/src/sub/note.txt
repo=$(echo "$RESTIC_URL" | sed "s|rest:https://|rest:https://$RESTIC_USER:$RESTIC_SECRET@|")
export RESTIC_PASSWORD=${RESTIC_PASSWORD}
r() { restic --repo "$repo" --cacert /creds/ca.crt --cache-dir /tmp/cache "$@"; }
r init
r backup /tmp/src
echo SUMS-BEGIN
(cd /tmp/src && find . -type f -exec sha256sum {} + | sort)
echo SUMS-END
`;

function sumsOf(logs: string): string {
  const match = /SUMS-BEGIN\n([\s\S]*?)SUMS-END/.exec(logs);
  if (!match?.[1]) throw new Error(`the backup printed no checksums:\n${logs}`);
  return match[1].trim();
}

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
    quotas: { storage: '20Gi', spaces: 1, endpoints: 2 },
    security: { twoFactor: 'Optional', keyCustody: 'provider' },
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

  const clients = await createNamespace('ending-clients');
  for (const endpoint of ENDPOINTS) {
    const secret = await createDeviceSecret(clients, namespace, 'files', endpoint);
    const backup = await runScript(clients, BACKUP, { secretEnv: { secret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret, mountPath: '/creds' }, timeoutMs: 300_000 });
    backedUp.set(endpoint, sumsOf(backup.logs));
  }
}, 900_000);

afterAll(() => forward?.stop());

async function download(location: string, dir: string): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match?.[1] || !match[2]) throw new Error(`not an S3 location: ${location}`);
  const [bucket, key] = [match[1], match[2]];
  const store = s3Client(forward.connection);
  const file = join(dir, key.split('/').pop() ?? 'export.tar');
  for (const [suffix, path] of [['', file], ['.sha256', `${file}.sha256`]] as const) {
    const object = await store.send(new GetObjectCommand({ Bucket: bucket, Key: key + suffix }));
    await writeFile(path, Buffer.from(await object.Body?.transformToByteArray() ?? new Uint8Array()));
  }
  return file;
}

/** Every restic repository under a directory (a folder with a `config` and `data/`). */
async function repositories(dir: string): Promise<string[]> {
  const names = await readdir(dir, { withFileTypes: true });
  if (names.some((entry) => entry.name === 'config' && entry.isFile()) && names.some((entry) => entry.name === 'data')) return [dir];
  const nested = await Promise.all(names.filter((entry) => entry.isDirectory()).map((entry) => repositories(join(dir, entry.name))));
  return nested.flat();
}

describe('a terminated contract on real pods', () => {
  it('exports each space by a Job to the S3 bucket, verified before anything is destroyed; restic restores identical trees; nothing of the tenant is left', async () => {
    await mergePatch(client, API.Tenant, tenant, undefined, { spec: { contract: { state: 'Terminated' } } });
    const done = await waitForTerminationPhase(client, tenant, 'Done', 900_000);
    expect(done.status?.termination?.exportVerified).toBe(true);

    const record = await terminationRecord(client, OPERATOR_NAMESPACE, tenant);
    expect(record?.spaces).toHaveLength(1);
    const space = record?.spaces[0];
    expect(space?.location).toMatch(new RegExp(`^s3://customer-exports/terminations/${tenant}/.+\\.tar$`));

    // Read back from the bucket: the operator's verification is repeated here, independently.
    const verified = await verifyExport(space?.location ?? '', { s3: forward.connection });
    expect(verified).toMatchObject({ sha256: space?.sha256, size: space?.size });
    const dir = await mkdtemp(join(tmpdir(), 'kind-export-'));
    const archive = await download(space?.location ?? '', dir);
    expect(createHash('sha256').update(await readFile(archive)).digest('hex')).toBe(space?.sha256);
    // The .sha256 names the archive by its base name, as sha256sum writes it: check from its folder.
    const check = await run('bash', ['-c', `cd "${dir}" && sha256sum -c "$(basename "${archive}").sha256"`]);
    expect(check.code, check.stderr).toBe(0);
    const listing = await run('tar', ['-tf', archive]);
    expect(listing.code, listing.stderr).toBe(0);
    const out = join(dir, 'bag');
    await mkdir(out);
    expect((await run('tar', ['-xf', archive, '-C', out])).code).toBe(0);
    const [bag] = await readdir(out);
    const bagDir = join(out, bag ?? '');
    for (const manifest of ['manifest-sha256.txt', 'tagmanifest-sha256.txt']) {
      const result = await run('bash', ['-c', `cd "${bagDir}" && sha256sum -c --quiet ${manifest}`]);
      expect(result.code, `${manifest}: ${result.stdout}${result.stderr}`).toBe(0);
    }

    // Each endpoint's repository in the bag restores, with plain restic, to the tree it backed up.
    const repos = await repositories(join(bagDir, 'data'));
    expect(repos).toHaveLength(ENDPOINTS.length);
    const restored: string[] = [];
    for (const repository of repos) {
      const target = await mkdtemp(join(tmpdir(), 'kind-restore-'));
      const env = { ...process.env, RESTIC_PASSWORD, RESTIC_REPOSITORY: repository, RESTIC_CACHE_DIR: join(dir, 'cache') };
      const restore = await run('restic', ['restore', 'latest', '--target', target], { env, timeoutMs: 300_000 });
      expect(restore.code, restore.stderr).toBe(0);
      const sums = await run('bash', ['-c', `cd "${target}/tmp/src" && find . -type f -exec sha256sum {} + | sort`]);
      restored.push(sums.stdout.trim());
    }
    expect(restored.sort()).toEqual([...backedUp.values()].sort());

    // Nothing of the tenant is left: its namespace (and with it every Secret, PVC and key object), its spaces' volumes.
    expect(await readObject(client, K8S.Namespace, namespace)).toBeUndefined();
    // Everything labelled as the tenant's, anywhere, is the record alone (kept in the operator's namespace).
    const labelled = await kubectlOk(['get', 'namespaces,secrets,persistentvolumeclaims,configmaps,jobs,networkpolicies,backupspaces,endpoints.tenantbackup.io', '--all-namespaces', '-l', `tenantbackup.io/tenant=${tenant}`,
      '-o', 'jsonpath={range .items[*]}{.metadata.namespace} {.kind} {.metadata.name}{"\\n"}{end}']);
    const left = labelled.split('\n').filter(Boolean);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^${OPERATOR_NAMESPACE} ConfigMap termination-${tenant}-`));
    // A volume the cluster retains (this suite's static datacenter volumes are Retain) is no longer bound:
    // what stays on it is the at-rest ciphertext, whose data key the record lists as shredded.
    const pvs = await kubectlOk(['get', 'persistentvolumes', '-o', 'jsonpath={range .items[*]}{.spec.claimRef.namespace} {.status.phase}{"\\n"}{end}']);
    const retained = pvs.split('\n').filter((line) => line.startsWith(`${namespace} `));
    for (const line of retained) expect(line).toBe(`${namespace} Released`);
    expect(record?.destroyed.keyIds.length).toBeGreaterThan(0);
    const secretsNamed = await kubectlOk(['get', 'secrets', '--all-namespaces', '-o', 'custom-columns=NS:.metadata.namespace,NAME:.metadata.name', '--no-headers']);
    expect(secretsNamed.split('\n').filter((line) => line.includes(namespace))).toEqual([]);
  }, 1_200_000);
});
