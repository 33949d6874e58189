/**
 * The controller runtime against the real API server: what the watch stream, the leader Lease and the
 * client's rate limits do when the server is real (TLS framing, API Priority and Fairness).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../src/runtime/informer.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { isApiError } from '../../src/runtime/kube/errors.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { LeaderElector } from '../../src/runtime/leader-election.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { sleep } from '../../src/runtime/sleep.ts';
import { clients, createNamespace, eventually, serviceAccountToken, tokenKubeConfig, uniqueName } from '../support/kube.ts';

const { kubeconfigPath, core } = clients();
const client = KubeClient.load(kubeconfigPath);
const silent = pino({ level: 'silent' });

interface ConfigMap extends KubeObject { data?: Record<string, string> }

describe('watch streams', () => {
  let namespace: string;
  beforeAll(async () => {
    namespace = await createNamespace(core, 'utf8-watch');
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  // ~24 KiB of two-, three- and four-byte characters per object: TLS records and socket reads cut
  // the stream every 16 KiB or so, so cuts land inside characters many times over.
  const names = ['Società Àrbëreshë di Cefalù', 'Müller & Söhne Größenwahn', 'Ελληνική Εταιρεία', '東京バックアップ', 'Ærø 🇮🇹🇩🇪'];
  const payload = (i: number) => Array.from({ length: 400 }, (_, n) => `${names[(i + n) % names.length]} #${i}.${n}`).join('; ');
  const configMap = (i: number) => ({ metadata: { name: `customer-${i}` }, data: { displayName: payload(i) } });

  it('delivers accented names intact through a large list and the watch that follows', async () => {
    // A large list first (several pages), then as many objects again through the watch.
    for (let i = 0; i < 60; i++) await client.request({ method: 'POST', path: collectionPath(K8S.ConfigMap, namespace), body: configMap(i) });
    const informer = new Informer<ConfigMap>(client, { ref: K8S.ConfigMap, namespace, pageSize: 7 }, silent);
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    try {
      await informer.synced;
      for (let i = 60; i < 120; i++) await client.request({ method: 'POST', path: collectionPath(K8S.ConfigMap, namespace), body: configMap(i) });
      await eventually('every object in the cache', async () => (informer.list((c) => c.metadata.name?.startsWith('customer-') ?? false).length === 120 ? true : undefined), { timeoutMs: 60_000 });
      const corrupted = [];
      for (let i = 0; i < 120; i++) {
        const cached = informer.get(`${namespace}/customer-${i}`);
        if (cached?.data?.displayName !== payload(i)) corrupted.push(`customer-${i}`);
      }
      expect(corrupted).toEqual([]);
    } finally {
      stop.abort();
      await running;
    }
  });
});

interface Lease { spec: { holderIdentity?: string | null; renewTime?: string | null } }

describe('leader election', () => {
  let namespace: string;
  beforeAll(async () => {
    namespace = await createNamespace(core, 'leader');
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('holds and renews the lease until the workers have stopped, then releases it', async () => {
    const name = uniqueName('lease');
    const elector = new LeaderElector(client, { namespace, name, identity: 'first', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 }, silent);
    const stop = new AbortController();
    let workersStopped = false;
    const readLease = () => client.request<Lease>({ method: 'GET', path: objectPath(K8S.Lease, name, namespace) });
    const outcome = elector.run(stop.signal, async (leaderSignal) => {
      await new Promise((resolve) => leaderSignal.addEventListener('abort', resolve, { once: true }));
      // Reconciles in flight take longer than a lease duration to finish.
      await sleep(4000);
      workersStopped = true;
    });
    await eventually('leadership', async () => (elector.isLeader() ? true : undefined), { timeoutMs: 10_000 });
    stop.abort();

    const seen: { holder: string | null | undefined; renewTime: string | null | undefined }[] = [];
    while (!workersStopped) {
      const lease = await readLease();
      if (!workersStopped) seen.push({ holder: lease.spec.holderIdentity, renewTime: lease.spec.renewTime });
      await sleep(200);
    }
    expect(await outcome).toBe('stopped');
    // While the workers ran, the lease stayed ours and was renewed (a successor could not take it)…
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.filter((s) => s.holder !== 'first')).toEqual([]);
    expect(new Set(seen.map((s) => s.renewTime)).size).toBeGreaterThan(1);
    // …and it was given up only after they had stopped.
    expect((await readLease()).spec.holderIdentity ?? null).toBeNull();
  });
});

const APF: Record<'priorityLevel' | 'flowSchema', ResourceRef> = {
  priorityLevel: { group: 'flowcontrol.apiserver.k8s.io', version: 'v1', kind: 'PriorityLevelConfiguration', plural: 'prioritylevelconfigurations', namespaced: false },
  flowSchema: { group: 'flowcontrol.apiserver.k8s.io', version: 'v1', kind: 'FlowSchema', plural: 'flowschemas', namespaced: false },
};

describe('the client under the API server\'s flow control', () => {
  let namespace: string;
  const level = uniqueName('runtime-test-throttle');
  let throttledConfig: ReturnType<typeof tokenKubeConfig>;

  beforeAll(async () => {
    namespace = await createNamespace(core, 'throttle');
    const account = 'throttled';
    await client.request({ method: 'POST', path: collectionPath(K8S.ServiceAccount, namespace), body: { metadata: { name: account } } });
    await client.request({ method: 'POST', path: collectionPath(K8S.Role, namespace), body: { metadata: { name: 'read' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] } });
    await client.request({ method: 'POST', path: collectionPath(K8S.RoleBinding, namespace), body: { metadata: { name: 'read' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read' }, subjects: [{ kind: 'ServiceAccount', name: account, namespace }] } });
    for (let i = 0; i < 40; i++) {
      await client.request({ method: 'POST', path: collectionPath(K8S.ConfigMap, namespace), body: { metadata: { name: `filler-${i}` }, data: { text: 'x'.repeat(100_000) } } });
    }
    // API Priority and Fairness: this account's requests get the smallest share of the server and
    // are rejected (429 with Retry-After), not queued, once it is in use.
    await client.request({ method: 'POST', path: collectionPath(APF.priorityLevel), body: { metadata: { name: level }, spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } } } } });
    await client.request({ method: 'POST', path: collectionPath(APF.flowSchema), body: { metadata: { name: level }, spec: {
      priorityLevelConfiguration: { name: level },
      matchingPrecedence: 10,
      distinguisherMethod: { type: 'ByUser' },
      rules: [{ subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: account, namespace } }], resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }] }],
    } } });
    throttledConfig = tokenKubeConfig(kubeconfigPath, account, await serviceAccountToken(client, account, namespace));
  });
  afterAll(async () => {
    for (const [ref, name] of [[APF.flowSchema, level], [APF.priorityLevel, level]] as const) {
      await client.request({ method: 'DELETE', path: objectPath(ref, name) }).catch(() => undefined);
    }
    await core.deleteNamespace({ name: namespace });
  });

  const lists = (c: KubeClient, n: number) => Array.from({ length: n }, () => c.request({ method: 'GET', path: collectionPath(K8S.ConfigMap, namespace) }));

  it('waits the Retry-After of a 429 and retries, so a burst the server throttles still succeeds', async () => {
    // Without retries, the server is seen throttling this account (once its flow-control
    // configuration has been picked up).
    const raw = new KubeClient(throttledConfig, { rateLimit: { qps: 0, burst: 0 }, maxThrottleRetries: 0 });
    const throttled = await eventually('the API server to throttle the account', async () => {
      const answers = await Promise.allSettled(lists(raw, 30));
      const rejections = answers.filter((a) => a.status === 'rejected').map((a) => a.reason as unknown);
      for (const reason of rejections) if (!isApiError(reason, 429)) throw reason;
      return rejections.length > 0 ? rejections.length : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    expect(throttled).toBeGreaterThan(0);
    raw.close();

    const retrying = new KubeClient(throttledConfig, { rateLimit: { qps: 0, burst: 0 } });
    // Fewer than the probe above: each retry round lets only a few through the one seat, and the
    // point is that retries spread out and finish, not how many a round admits.
    const answers = await Promise.allSettled(lists(retrying, 20));
    expect(answers.filter((a) => a.status === 'rejected').map((a) => String(a.reason))).toEqual([]);
    expect(retrying.throttledRetries).toBeGreaterThan(0);
    retrying.close();
  });

  it('spaces its own requests at the configured QPS after the burst', async () => {
    const limited = new KubeClient(throttledConfig, { rateLimit: { qps: 5, burst: 2 } });
    const started = Date.now();
    for (let i = 0; i < 12; i++) await limited.request({ method: 'GET', path: objectPath(K8S.ConfigMap, 'filler-0', namespace) });
    // Two at once, then ten at 200 ms intervals: at least 2 s, where unlimited takes a few ms each.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    limited.close();
  });
});
