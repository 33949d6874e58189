/**
 * Segregation with real traffic through kube-router's NetworkPolicy engine (S11): a pod of another
 * tenant or of a provider admin namespace cannot reach a tenant's gateway; a pod of a provider
 * namespace that is neither (an ingress or load balancer) can; a suspended tenant's gateway is
 * unreachable. The last test removes the tenant policies and shows the same probes then connect, so
 * the refusals are the policies' doing and not a broken network.
 *
 * Probes come from long-lived pods, started together and used only once the provider namespace's one
 * connects: kube-router needs a moment to add a new pod to its address sets, and a refusal seen in that
 * moment would prove nothing.
 */
import type { V1Service } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import { K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, mergePatch, readObject } from '../support/cluster-objects.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { OPERATOR_DEPLOYMENT, OPERATOR_NAMESPACE } from './release.ts';
import { client, createNamespace, kubectlOk, probeFrom, readySpaceAndEndpoint, startProber } from './support.ts';

const tenantA = uniqueName('kind-seg-a');
const tenantB = uniqueName('kind-seg-b');
const ADMIN_NAMESPACE = 'monitoring';
let namespaceA: string;
let namespaceB: string;
let provider: string;
let gatewayIp: string;
const probers: Record<'tenantA' | 'admin' | 'provider', { namespace: string; pod: string }> = {} as never;

const probe = (from: keyof typeof probers) => probeFrom(probers[from].namespace, probers[from].pod, gatewayIp, 8443);

async function tenantWithSpace(name: string): Promise<string> {
  const { namespace } = await createReadyTenant(client, name, {
    residency: { countries: ['IT'] }, quotas: { storage: '20Gi', spaces: 1, endpoints: 2 }, security: { twoFactor: 'Optional', keyCustody: 'provider' },
  });
  await createSpace(client, 'data', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 1 });
  await createEndpoint(client, 'pc', namespace, 'data', { kind: 'Desktop', os: 'Linux' });
  await readySpaceAndEndpoint(namespace, 'data', 'pc');
  return namespace;
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', `${import.meta.dirname}/../../examples/01-datacenters.yaml`]);
  [namespaceA, namespaceB] = await Promise.all([tenantWithSpace(tenantA), tenantWithSpace(tenantB)]);
  provider = await createNamespace('provider-ingress');
  if (!(await readObject(client, K8S.Namespace, ADMIN_NAMESPACE))) await kubectlOk(['create', 'namespace', ADMIN_NAMESPACE]);
  const service = await readObject<V1Service>(client, K8S.Service, 'data-gateway', namespaceB);
  gatewayIp = service?.spec?.clusterIP ?? '';
  expect(gatewayIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  const [a, admin, ingress] = await Promise.all([startProber(namespaceA), startProber(ADMIN_NAMESPACE), startProber(provider)]);
  probers.tenantA = { namespace: namespaceA, pod: a };
  probers.admin = { namespace: ADMIN_NAMESPACE, pod: admin };
  probers.provider = { namespace: provider, pod: ingress };
  await eventually('the provider ingress prober to be known to the policies', async () => ((await probe('provider')) === 'CONNECTED' ? true : undefined), { timeoutMs: 120_000, intervalMs: 2000 });
}, 600_000);

describe('tenant segregation with real traffic', () => {
  it('lets a provider ingress namespace reach a tenant\'s gateway', async () => {
    expect(await probe('provider')).toBe('CONNECTED');
  });

  it('keeps another tenant\'s pods away from the gateway', async () => {
    expect(await probe('tenantA')).toMatch(/^REFUSED-OR-TIMEOUT/);
  });

  it('keeps a provider admin namespace away from the gateway', async () => {
    expect(await probe('admin')).toMatch(/^REFUSED-OR-TIMEOUT/);
  });

  it('makes a suspended tenant\'s gateway unreachable, and reachable again when resumed', async () => {
    await mergePatch(client, API.Tenant, tenantB, undefined, { spec: { contract: { state: 'Suspended' } } });
    await eventually('the suspended gateway to be unreachable', async () => ((await probe('provider')).startsWith('REFUSED-OR-TIMEOUT') ? true : undefined), { timeoutMs: 120_000, intervalMs: 2000 });
    await mergePatch(client, API.Tenant, tenantB, undefined, { spec: { contract: { state: 'Active' } } });
    await eventually('the resumed gateway to be reachable', async () => ((await probe('provider')) === 'CONNECTED' ? true : undefined), { timeoutMs: 120_000, intervalMs: 2000 });
  });

  it('owes those refusals to the tenant policies: without them the same probes connect', async () => {
    await kubectlOk(['scale', 'deployment', OPERATOR_DEPLOYMENT, '--namespace', OPERATOR_NAMESPACE, '--replicas=0']);
    try {
      await kubectlOk(['wait', '--for=delete', 'pod', '--namespace', OPERATOR_NAMESPACE, '--selector', 'app.kubernetes.io/name=tenant-backup-operator', '--timeout=120s']);
      for (const namespace of [namespaceA, namespaceB]) await kubectlOk(['delete', 'networkpolicies', '--all', '--namespace', namespace]);
      await eventually('tenant A\'s prober to connect without the policies', async () => ((await probe('tenantA')) === 'CONNECTED' ? true : undefined), { timeoutMs: 60_000, intervalMs: 2000 });
      await eventually('the admin prober to connect without the policies', async () => ((await probe('admin')) === 'CONNECTED' ? true : undefined), { timeoutMs: 60_000, intervalMs: 2000 });
    } finally {
      await kubectlOk(['scale', 'deployment', OPERATOR_DEPLOYMENT, '--namespace', OPERATOR_NAMESPACE, '--replicas=2']);
      await kubectlOk(['rollout', 'status', 'deployment', OPERATOR_DEPLOYMENT, '--namespace', OPERATOR_NAMESPACE, '--timeout=180s']);
    }
    // The operator puts the policies back, and with them the refusals.
    await eventually('the refusal to return', async () => ((await probe('tenantA')).startsWith('REFUSED-OR-TIMEOUT') ? true : undefined), { timeoutMs: 180_000, intervalMs: 3000 });
  });
});
