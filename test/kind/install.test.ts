/**
 * The operator as users run it: installed by our chart from our image, two replicas with leader
 * election, the admission webhook refusing through the API server, metrics over TLS for allowed
 * tokens only, the examples
 * applied and their gateways running as real pods.
 */
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace } from '../../src/api/types.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { createIfAbsent, createObject, readObject, waitForCondition } from '../support/cluster-objects.ts';
import { eventually, refused, serviceAccountToken, uniqueName } from '../support/kube.ts';
import { CLUSTER_ROLE_BINDING } from '../support/tokens.ts';
import { datacenter, space } from '../support/objects.ts';
import { OPERATOR_NAMESPACE, RELEASE } from './release.ts';
import { client, kubectlOk, readyGatewayPods, runScript, waitForConnect } from './support.ts';

const examples = join(import.meta.dirname, '../../examples');

async function operatorPods(): Promise<V1Pod[]> {
  const list = await client.request<{ items: V1Pod[] }>({ method: 'GET', path: collectionPath(K8S.Pod, OPERATOR_NAMESPACE), query: { labelSelector: 'app.kubernetes.io/name=tenant-backup-operator' } });
  return list.items.filter((pod) => !pod.metadata?.deletionTimestamp && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

async function leaseHolder(): Promise<string | undefined> {
  const lease = await readObject<{ spec?: { holderIdentity?: string } }>(client, K8S.Lease, 'tenant-backup-operator', OPERATOR_NAMESPACE);
  return lease?.spec?.holderIdentity;
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', join(examples, '01-datacenters.yaml')]);
  for (const name of ['it-mil1', 'it-rom1', 'de-fra1']) await waitForCondition(client, API.Datacenter, name, undefined, 'Ready', 'True', undefined, 120_000);
});

describe('the operator installed by its chart', () => {
  it('runs two replicas on distinct nodes, one of them holding the leader Lease', async () => {
    const pods = await eventually('two ready operator pods', async () => {
      const ready = await operatorPods();
      return ready.length === 2 ? ready : undefined;
    }, { timeoutMs: 120_000 });
    expect(new Set(pods.map((pod) => pod.spec?.nodeName)).size).toBe(2);
    const holder = await eventually('a leader', leaseHolder);
    expect(pods.map((pod) => pod.metadata?.name)).toContain(holder?.split('_')[0]);
  });

  it('hands leadership to the other replica when the leader\'s pod is killed, and goes on reconciling', async () => {
    const holder = await eventually('a leader', leaseHolder);
    const leaderPod = (await operatorPods()).find((pod) => holder?.startsWith(pod.metadata?.name ?? '\0'));
    expect(leaderPod, `the Lease holder ${holder} is one of the operator pods`).toBeDefined();
    await kubectlOk(['delete', 'pod', '--namespace', OPERATOR_NAMESPACE, leaderPod?.metadata?.name ?? '', '--grace-period=0', '--force', '--wait=false']);
    const next = await eventually('another replica to take the Lease', async () => {
      const current = await leaseHolder();
      return current && !current.startsWith(leaderPod?.metadata?.name ?? '\0') ? current : undefined;
    }, { timeoutMs: 90_000 });
    expect(next).not.toBe(holder);
    // The new leader reconciles: a Datacenter created now gets a status.
    await createObject(client, API.Datacenter, datacenter('kind-takeover', 'IT', { nodeSelector: { matchLabels: { 'topology.kubernetes.io/zone': 'it-mil1' } }, storage: { storageClassName: 'datacenter-storage' } }));
    await waitForCondition(client, API.Datacenter, 'kind-takeover', undefined, 'Ready', 'True', undefined, 90_000);
    await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, 'kind-takeover') });
    await eventually('the Deployment to be whole again', async () => ((await operatorPods()).length === 2 ? true : undefined), { timeoutMs: 180_000 });
  });

  it('refuses, through the API server and its webhook, a space outside its tenant\'s residency', async () => {
    await kubectlOk(['apply', '-f', join(examples, '02-tenants.yaml')]);
    await waitForCondition(client, API.Tenant, 'studio-rossi', undefined, 'Ready', 'True', undefined, 120_000);
    const refusal = await refused(createObject(client, API.BackupSpace, space('abroad', 'tenant-studio-rossi', { size: '1Gi', datacenter: 'de-fra1', replicas: 1 })));
    expect(refusal.code).toBe(403);
    expect(refusal.message).toMatch(/admission webhook/);
    expect(refusal.message).toMatch(/de-fra1|DE|residency/);
  });

  it('serves its metrics over TLS only, to the monitoring namespace, and only to a token allowed to get /metrics', async () => {
    const monitoring = await readObject(client, K8S.Namespace, 'monitoring') ? 'monitoring' : await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: 'monitoring' } } }).then(() => 'monitoring');
    // A scraper ServiceAccount bound to the chart's metrics-reader ClusterRole, and one that is not.
    const scraper = uniqueName('scraper');
    const stranger = uniqueName('stranger');
    for (const name of [scraper, stranger]) await createIfAbsent(client, K8S.ServiceAccount, { metadata: { name, namespace: monitoring } });
    const binding = { metadata: { name: scraper }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${RELEASE}-metrics-reader` }, subjects: [{ kind: 'ServiceAccount', name: scraper, namespace: monitoring }] };
    await createIfAbsent(client, CLUSTER_ROLE_BINDING, binding);
    const tokens = uniqueName('scrape-tokens');
    await client.request({ method: 'POST', path: collectionPath(K8S.Secret, monitoring), body: { metadata: { name: tokens }, stringData: {
      ALLOWED: await serviceAccountToken(client, scraper, monitoring, 600),
      DENIED: await serviceAccountToken(client, stranger, monitoring, 600),
    } } });
    const pod = (await operatorPods())[0];
    const ip = pod?.status?.podIP;
    // A new pod is let in once kube-router has added it to the policy's address set: wait for that first.
    const scrape = await runScript(monitoring, `${waitForConnect()} && node -e '
const https = require("https"), http = require("http");
const get = (label, token, then) => https.get({ host: "${ip}", port: 8443, path: "/metrics", rejectUnauthorized: false, headers: token ? { authorization: "Bearer " + token } : {} }, (res) => {
  const protocol = res.socket.getProtocol();
  let body = ""; res.on("data", (c) => body += c);
  res.on("end", () => {
    console.log(label + " TLS " + protocol + " status " + res.statusCode);
    console.log(body.split("\\n").filter((l) => l.includes("controller_runtime_reconcile_total")).slice(0, 3).join("\\n"));
    then();
  });
}).on("error", (e) => { console.log(label + " TLS error " + e.message); then(); });
get("NONE", "", () => get("DENIED", process.env.DENIED, () => get("ALLOWED", process.env.ALLOWED, () =>
  http.get({ host: "${ip}", port: 8443, path: "/metrics" }, (r) => console.log("PLAIN status " + r.statusCode)).on("error", (e) => console.log("PLAIN refused " + e.code)))));'`, { env: { WAIT_HOST: ip ?? '', WAIT_PORT: '8443' }, secretEnv: { secret: tokens, keys: ['ALLOWED', 'DENIED'] } });
    await client.request({ method: 'DELETE', path: objectPath(K8S.Secret, tokens, monitoring) }).catch(() => undefined);
    expect(scrape.logs).toMatch(/NONE TLS TLSv1\.[23] status 401/);
    expect(scrape.logs).toMatch(/DENIED TLS TLSv1\.[23] status 403/);
    expect(scrape.logs).toMatch(/ALLOWED TLS TLSv1\.[23] status 200/);
    expect(scrape.logs).toMatch(/# TYPE controller_runtime_reconcile_total counter/);
    expect(scrape.logs).not.toMatch(/PLAIN status 200/);
  });

  it('runs the examples\' gateways as real pods from our image, on their datacenter\'s nodes', async () => {
    for (const file of ['04-bottega.yaml', '05-studio-rossi.yaml']) await kubectlOk(['apply', '-f', join(examples, file)]);
    const space = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'archive', 'tenant-studio-rossi', 'Ready', 'True', undefined, 240_000);
    expect(space.status?.nodes ?? []).not.toHaveLength(0);
    const pods = await readyGatewayPods('tenant-studio-rossi', 'archive');
    expect(pods).toHaveLength(1);
    const node = await readObject<{ metadata: { labels: Record<string, string> } }>(client, K8S.Node, pods[0]?.spec?.nodeName ?? '');
    expect(node?.metadata.labels['topology.kubernetes.io/zone']).toBe('it-rom1');
    expect(pods[0]?.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
  });
});

