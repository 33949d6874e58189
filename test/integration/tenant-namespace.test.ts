/**
 * A tenant whose name maps onto a namespace that is not its own (`backup-system` →
 * `tenant-backup-system`, the operator's) against the real control plane: the webhook refuses it,
 * and when admission is bypassed no controller builds anything there — no 2FA Secrets or RBAC for
 * its users beside the master key and the CA, no gateway, no device credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { Tenant } from '../../src/api/types.ts';
import { enrolmentSecretName, SPACE_LABEL, TENANT_LABEL, tenantNamespaceName } from '../../src/controllers/labels.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createIfAbsent, createObject, createSpace, createTenant, ensureDatacenters, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, refused, uniqueName } from '../support/kube.ts';
import { tenant as tenantObject } from '../support/objects.ts';
import { OperatorProcess, startWebhookOperator } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
// Like the chart's tenant-backup-system: an operator namespace that looks like a tenant's.
const squatter = uniqueName('backup-system');
const operatorNamespace = tenantNamespaceName(squatter);
const users = [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' as const }];
const tenants: string[] = [];

/** Creates the tenant, or keeps one of that name (an admission that let it through). */
async function newTenant(name: string): Promise<void> {
  tenants.push(name);
  await createIfAbsent(client, API.Tenant, tenantObject(name, { users }));
}

async function listNames(ref: ResourceRef, namespace: string, labelSelector: string): Promise<string[]> {
  const list = await client.request<{ items: { metadata: { name: string } }[] }>({ method: 'GET', path: collectionPath(ref, namespace), query: { labelSelector } });
  return list.items.map((i) => `${ref.kind}/${i.metadata.name}`);
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await createObject(client, K8S.Namespace, { metadata: { name: operatorNamespace } });
});

afterAll(async () => {
  await client.request({ method: 'DELETE', path: objectPath(K8S.Namespace, operatorNamespace) }).catch(() => undefined);
});

describe('admission', () => {
  let operator: OperatorProcess | undefined;
  const someoneElse = uniqueName('shop');

  beforeAll(async () => {
    ({ operator } = await startWebhookOperator(kubeconfigPath, client, ['--namespace', operatorNamespace]));
    await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: tenantNamespaceName(someoneElse), labels: { team: 'web-shop' } } } });
  });

  afterAll(async () => {
    await operator?.stop();
    await client.request({ method: 'DELETE', path: objectPath(K8S.ValidatingWebhookConfiguration, 'tenant-backup-operator') }).catch(() => undefined);
    await client.request({ method: 'DELETE', path: objectPath(K8S.Namespace, tenantNamespaceName(someoneElse)) }).catch(() => undefined);
  });

  it('refuses a tenant whose namespace would be the operator\'s own, naming the field and the rule', async () => {
    const refusal = await refused(createTenant(client, squatter));
    expect(refusal.code).toBe(403);
    expect(refusal.message).toBe(`admission webhook "validate.tenants.tenantbackup.io" denied the request: metadata.name: namespace-taken: tenant ${squatter} would live in namespace ${operatorNamespace}, which is reserved for the provider (the operator's or an admin namespace); choose another tenant name`);
    expect(await readObject(client, API.Tenant, squatter)).toBeUndefined();
  });

  it('refuses a tenant whose namespace already exists for someone else', async () => {
    const refusal = await refused(createTenant(client, someoneElse));
    expect(refusal.code).toBe(403);
    expect(refusal.message).toContain(`metadata.name: namespace-taken: tenant ${someoneElse} would live in namespace ${tenantNamespaceName(someoneElse)}, which already exists and does not belong to this tenant`);
  });

  it('admits a tenant whose namespace is free', async () => {
    const free = uniqueName('free');
    tenants.push(free);
    await createTenant(client, free);
    expect(await readObject(client, API.Tenant, free)).toBeDefined();
  });
});

describe('with admission bypassed (no webhook)', () => {
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace]);
  });

  afterAll(async () => {
    // While the operator runs, so that it releases their finalizers.
    for (const name of tenants) await removeTenant(client, name);
    await eventually('the test tenants to be gone', async () => {
      for (const name of tenants) if (await readObject(client, API.Tenant, name)) return undefined;
      return true;
    }, { timeoutMs: 60_000 }).catch(() => undefined);
    await operator?.stop();
  });

  it('builds nothing for the tenant in a namespace that is not its own, while it builds for others', async () => {
    const control = uniqueName('control');
    await newTenant(control);
    await newTenant(squatter);
    await waitForCondition<Tenant>(client, API.Tenant, squatter, undefined, 'Stalled', 'True', 'NamespaceConflict');
    // The controllers are at work: the control tenant's user gets her enrolment…
    await waitForCondition<Tenant>(client, API.Tenant, control, undefined, 'Ready', 'True');
    await eventually('the control tenant\'s enrolment', async () => readObject(client, K8S.Secret, enrolmentSecretName('giulia'), tenantNamespaceName(control)));
    // …and the squatter's users get no 2FA Secret or RBAC beside the operator's master key and CA.
    const access = [
      ...await listNames(K8S.Secret, operatorNamespace, `${TENANT_LABEL}=${squatter}`),
      ...await listNames(K8S.Role, operatorNamespace, `${TENANT_LABEL}=${squatter}`),
      ...await listNames(K8S.RoleBinding, operatorNamespace, `${TENANT_LABEL}=${squatter}`),
    ];
    expect(access).toEqual([]);

    // A space and a device put there are refused by their reconcilers, and get nothing either.
    await createSpace(client, 'vault', operatorNamespace, { size: '5Gi' });
    await createEndpoint(client, 'laptop', operatorNamespace, 'vault');
    await waitForCondition(client, API.BackupSpace, 'vault', operatorNamespace, 'Stalled', 'True');
    await waitForCondition(client, API.Endpoint, 'laptop', operatorNamespace, 'Stalled', 'True');
    const built = [
      ...await listNames(K8S.Secret, operatorNamespace, SPACE_LABEL),
      ...await listNames(K8S.Deployment, operatorNamespace, SPACE_LABEL),
      ...await listNames(K8S.PersistentVolumeClaim, operatorNamespace, SPACE_LABEL),
      ...await listNames(K8S.Secret, operatorNamespace, `${TENANT_LABEL}=${squatter}`),
    ];
    expect(built).toEqual([]);
  });
});
