/**
 * Contract end on real pods to a PersistentVolumeClaim of the provider's namespace (issue 11): the
 * export Job in the tenant's namespace cannot mount that claim, so it sends the archive through the
 * relay — a receiver Job beside the claim (TLS from the operator's CA, a token, NetworkPolicies on
 * both sides) — and the verify Job re-reads it there. The archive is then read off the claim by a pod
 * of our own and checked as a customer would; nothing of the tenant is left; the claim keeps it.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, mergePatch } from '../support/cluster-objects.ts';
import { uniqueName } from '../support/kube.ts';
import { terminationRecord, waitForTerminationPhase } from '../integration/termination-fixture.ts';
import { OPERATOR_NAMESPACE } from './release.ts';
import { backUpEndpoints, checkExportedArchive, client, createNamespace, expectNothingOfTenantLeft, kubectlOk, readySpaceAndEndpoint, startProber } from './support.ts';

const tenant = uniqueName('kind-claim');
const ENDPOINTS = ['server1', 'laptop'];
let namespace: string;
let provider: string;
let backedUp: Map<string, string>;

beforeAll(async () => {
  await kubectlOk(['apply', '-f', `${import.meta.dirname}/../../examples/01-datacenters.yaml`]);
  provider = await createNamespace('provider');
  // Bound on first use (WaitForFirstConsumer): where the receiver runs, in the space's country.
  await client.request({
    method: 'POST', path: collectionPath(K8S.PersistentVolumeClaim, provider),
    body: { metadata: { name: 'exports' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: 'datacenter-storage', resources: { requests: { storage: '2Gi' } } } },
  });
  ({ namespace } = await createReadyTenant(client, tenant, {
    residency: { countries: ['IT'] },
    quotas: { storage: '20Gi', spaces: 1, endpoints: 2 },
    security: { twoFactor: 'Optional', keyCustody: 'provider' },
    contract: { state: 'Active', exportTarget: { persistentVolumeClaim: { namespace: provider, claimName: 'exports' } } },
  }));
  await createSpace(client, 'files', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1, encryption: { atRest: true } });
  for (const endpoint of ENDPOINTS) await createEndpoint(client, endpoint, namespace, 'files', { kind: 'Server', os: 'Linux' });
  for (const endpoint of ENDPOINTS) await readySpaceAndEndpoint(namespace, 'files', endpoint);
  backedUp = await backUpEndpoints(namespace, 'files', ENDPOINTS);
}, 900_000);

describe('a terminated contract exporting to a claim of the provider', () => {
  it('lands the archive on the claim through the relay, verified there; restic restores identical trees; nothing of the tenant is left', async () => {
    await mergePatch(client, API.Tenant, tenant, undefined, { spec: { contract: { state: 'Terminated' } } });
    const done = await waitForTerminationPhase(client, tenant, 'Done', 900_000);
    expect(done.status?.termination?.exportVerified).toBe(true);
    const record = await terminationRecord(client, OPERATOR_NAMESPACE, tenant);
    const space = record?.spaces[0];
    expect(space?.location).toMatch(new RegExp(`^pvc://${provider}/exports/${tenant}_files_term-[0-9a-f]+\\.tar$`));
    const archive = space?.location?.split('/').pop() ?? '';

    // Read on the claim by a pod of our own: finished (no partial file), its .sha256 checks, tar lists it.
    const reader = await startProber(provider, { claim: 'exports' });
    const onClaim = await kubectlOk(['exec', '--namespace', provider, reader, '--', 'sh', '-c', `cd /claim && ls -A && sha256sum -c ${archive}.sha256 && sha256sum ${archive} && tar -tf ${archive} | grep -c /data/`]);
    expect(onClaim).toContain(`${archive}: OK`);
    expect(onClaim).toContain(`${space?.sha256}  ${archive}`);
    expect(onClaim).not.toContain('.partial');

    // Copied out and checked as a customer would.
    const dir = await mkdtemp(join(tmpdir(), 'kind-claim-export-'));
    for (const file of [archive, `${archive}.sha256`]) await kubectlOk(['cp', '--namespace', provider, `${reader}:/claim/${file}`, join(dir, file)]);
    await checkExportedArchive(join(dir, archive), dir, backedUp);

    // Nothing of the tenant (nor of the relay, which carries the tenant's label) is left anywhere.
    await expectNothingOfTenantLeft(tenant, namespace, record);
  }, 1_200_000);
});
