/**
 * The controller runtime against the real API server: what the watch stream, the leader Lease and the
 * client's rate limits do when the server is real (TLS framing, API Priority and Fairness).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../src/runtime/informer.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { clients, createNamespace, eventually } from '../support/kube.ts';

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
