/**
 * Proves the suite's control plane is the real thing: schema validation, the namespace controller,
 * ResourceQuota admission and the scheduler honouring node affinity on the datacenter labels.
 */
import { ApiextensionsV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COUNTRY_LABEL, SIMULATED_DATACENTERS } from '../harness/topology.ts';
import { clients, createNamespace, eventually, refused, uniqueName } from '../support/kube.ts';

const { config, core, objects } = clients();

describe('the control plane', () => {
  let namespace: string;

  beforeAll(async () => {
    namespace = await createNamespace(core, 'controlplane');
  });

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('validates custom resources against their CRD schema', async () => {
    const extensions = config.makeApiClient(ApiextensionsV1Api);
    const group = 'harness.tenantbackup.io';
    const plural = uniqueName('widgets').replace(/-/g, '');
    await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural, singular: plural.slice(0, -1), kind: `W${plural.slice(1, -1)}` },
          versions: [{
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } },
              },
            },
          }],
        },
      },
    });
    try {
      const kind = `W${plural.slice(1, -1)}`;
      const object = (size: number) => ({ apiVersion: `${group}/v1`, kind, metadata: { name: uniqueName('w'), namespace }, spec: { size } });
      await eventually('the CRD to be served', async () => (await objects.create(object(3))) ?? undefined);
      const refusal = await refused(objects.create(object(0)));
      expect(refusal.code).toBe(422);
      expect(refusal.message).toContain('spec.size');
    } finally {
      await extensions.deleteCustomResourceDefinition({ name: `${plural}.${group}` });
    }
  });

  it('deletes a namespace and what it held (namespace controller)', async () => {
    const doomed = await createNamespace(core, 'doomed');
    await core.createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: 'contents' }, data: { a: 'b' } } });
    await core.deleteNamespace({ name: doomed });
    await eventually('the namespace to disappear', async () => {
      const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
      return names.includes(doomed) ? undefined : true;
    });
  });

  it('refuses an object past a ResourceQuota (quota admission)', async () => {
    await core.createNamespacedResourceQuota({
      namespace,
      body: { metadata: { name: 'two-configmaps' }, spec: { hard: { 'count/configmaps': '3' } } },
    });
    // The quota controller must have computed usage before admission can charge against it.
    await eventually('the quota to be observed', async () => {
      const quota = await core.readNamespacedResourceQuota({ namespace, name: 'two-configmaps' });
      return quota.status?.used ? quota : undefined;
    });
    // kube-root-ca.crt already counts as one configmap.
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'first' } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'second' } } });
    const refusal = await refused(core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'third' } } }));
    expect(refusal.code).toBe(403);
    expect(refusal.message).toMatch(/exceeded quota: two-configmaps/);
  });

  it('schedules a pod with a country affinity only onto nodes of that country', async () => {
    const countries = [...new Set(SIMULATED_DATACENTERS.map((dc) => dc.country))];
    expect(countries.length).toBeGreaterThanOrEqual(3);
    const nodeCountry = new Map(
      (await core.listNode()).items.map((n) => [n.metadata?.name ?? '', n.metadata?.labels?.[COUNTRY_LABEL] ?? '']),
    );
    const podsPerCountry = 4;
    const created: { name: string; country: string }[] = [];
    for (const country of countries) {
      for (let i = 0; i < podsPerCountry; i++) {
        const name = uniqueName(`pinned-${country.toLowerCase()}`);
        const pod: V1Pod = {
          metadata: { name },
          spec: {
            containers: [{ name: 'main', image: 'registry.invalid/none:1' }],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: COUNTRY_LABEL, operator: 'In', values: [country] }] }],
                },
              },
            },
          },
        };
        await eventually('the pod to be admitted', async () => core.createNamespacedPod({ namespace, body: pod }));
        created.push({ name, country });
      }
    }
    for (const { name, country } of created) {
      // The binding comes from kube-scheduler; nothing in this suite sets nodeName.
      const nodeName = await eventually(`pod ${name} to be bound`, async () =>
        (await core.readNamespacedPod({ namespace, name })).spec?.nodeName || undefined);
      expect(nodeCountry.get(nodeName), `pod ${name} asked for ${country}, bound to ${nodeName}`).toBe(country);
    }
    const boundNodes = new Set(await Promise.all(created.map(async ({ name }) => (await core.readNamespacedPod({ namespace, name })).spec?.nodeName)));
    // The scheduler spread the pods; the test would prove nothing if everything landed on one node.
    expect(boundNodes.size).toBeGreaterThan(countries.length);
  });
});
