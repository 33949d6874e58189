/**
 * Gateway pod settings (issue 14, item 5) on the real control plane: the operator's own settings
 * (--gateway-workload, what the chart's `gateway` value becomes) under a Datacenter's override
 * (spec.gateway) reach the gateway Deployment of a space in that datacenter, and its pods are
 * admitted with them (Priority admission, the tenant namespace's LimitRange); a change or removal of
 * the override follows; and the API server refuses an override of the labels the operator selects
 * its pods by, naming the field.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayWorkload } from '../../src/api/gateway-workload.ts';
import { API } from '../../src/api/refs.ts';
import type { Datacenter } from '../../src/api/types.ts';
import { gatewaySelector } from '../../src/controllers/backupspace/desired.ts';
import { SPACE_LABEL } from '../../src/controllers/labels.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { ZONE_LABEL } from '../harness/topology.ts';
import { createObject, createReadyTenant, ensureDatacenters, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, refused, uniqueName } from '../support/kube.ts';
import { datacenter as datacenterObject, space as spaceObject } from '../support/objects.ts';
import { OperatorProcess } from '../support/operator.ts';

const PRIORITY_CLASSES: ResourceRef = { group: 'scheduling.k8s.io', version: 'v1', kind: 'PriorityClass', plural: 'priorityclasses', namespaced: false };
const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-gwsettings');
const datacenterName = uniqueName('it-gw');
const priorityClass = uniqueName('backup-gateways');
const tenantName = uniqueName('gwset');
let namespace = '';
let operator: OperatorProcess;

/** What the chart renders from `gateway:` values (tolerations and a label for every gateway). */
const operatorSettings = {
  podLabels: { team: 'storage', tier: 'silver' },
  podAnnotations: { 'example.com/owner': 'storage-team' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'backup', effect: 'NoSchedule' }],
};
const override: GatewayWorkload = {
  resources: { requests: { cpu: '200m', memory: '192Mi' }, limits: { cpu: '2', memory: '640Mi' } },
  priorityClassName: priorityClass,
  podLabels: { tier: 'gold' },
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'ScheduleAnyway' }],
};
const spread = override.topologySpreadConstraints ?? [];

const gateway = () => readObject<V1Deployment>(client, K8S.Deployment, 'vault-gateway', namespace);

/** The gateway Deployment once its template satisfies `check`. */
async function gatewayWhen(what: string, check: (deployment: V1Deployment) => boolean): Promise<V1Deployment> {
  return eventually(what, async () => {
    const deployment = await gateway();
    return deployment && check(deployment) ? deployment : undefined;
  }, { timeoutMs: 90_000 });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(PRIORITY_CLASSES), body: { metadata: { name: priorityClass }, value: 1000, description: 'gateway-workload test' } });
  await createObject(client, API.Datacenter, datacenterObject(datacenterName, 'IT', { nodeSelector: { matchLabels: { [ZONE_LABEL]: 'it-rom1' } }, gateway: override }));
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  operator = await OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test', '--gateway-workload', JSON.stringify(operatorSettings)]);
  await waitForCondition<Datacenter>(client, API.Datacenter, datacenterName, undefined, 'Ready', 'True');
  ({ namespace } = await createReadyTenant(client, tenantName, { residency: { countries: ['IT'] }, quotas: { storage: '100Gi', spaces: 1, endpoints: 1 } }));
});

afterAll(async () => {
  await removeTenant(client, tenantName);
  await operator?.stop();
  await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, datacenterName) }).catch(() => undefined);
  await client.request({ method: 'DELETE', path: objectPath(PRIORITY_CLASSES, priorityClass) }).catch(() => undefined);
  await client.request({ method: 'DELETE', path: objectPath(K8S.Namespace, operatorNamespace) }).catch(() => undefined);
});

describe('gateway pod settings', () => {
  it('builds the gateway of a space from the operator\'s settings under its datacenter\'s override, and its pods are admitted so', async () => {
    await createObject(client, API.BackupSpace, spaceObject('vault', namespace, { datacenter: datacenterName, replicas: 1 }));
    const selector = gatewaySelector({ metadata: { name: 'vault' } });
    const deployment = await gatewayWhen('the gateway Deployment', () => true);
    const template = deployment.spec?.template;
    const container = template?.spec?.containers[0];
    expect(container?.resources).toEqual(override.resources);
    expect(template?.spec?.priorityClassName).toBe(priorityClass);
    expect(template?.spec?.tolerations).toEqual(operatorSettings.tolerations);
    expect(template?.spec?.topologySpreadConstraints).toEqual([{ ...spread[0], labelSelector: { matchLabels: selector } }]);
    // Labels merge (the datacenter's tier over the operator's), the selector's stay the operator's.
    expect(template?.metadata?.labels).toMatchObject({ ...selector, team: 'storage', tier: 'gold' });
    expect(template?.metadata?.annotations).toMatchObject(operatorSettings.podAnnotations);
    expect(deployment.spec?.selector.matchLabels).toEqual(selector);

    const pod = await eventually('a gateway pod admitted', async () => {
      const pods = (await client.request<{ items: V1Pod[] }>({ method: 'GET', path: collectionPath(K8S.Pod, namespace), query: { labelSelector: `${SPACE_LABEL}=vault` } })).items;
      return pods[0];
    }, { timeoutMs: 90_000 });
    // Priority admission resolved the class, and the LimitRange let the resources through unchanged.
    expect(pod.spec?.priority).toBe(1000);
    expect(pod.spec?.containers[0]?.resources).toEqual(override.resources);
  });

  it('follows a changed override, dropping what it no longer sets', async () => {
    // Only removals: nothing the operator wants is missing from the Deployment, yet it must change.
    await mergePatch(client, API.Datacenter, datacenterName, undefined, { spec: { gateway: { priorityClassName: null, topologySpreadConstraints: null } } });
    const dropped = await gatewayWhen('the gateway to drop the priority class and the spread', (d) => d.spec?.template.spec?.priorityClassName === undefined);
    expect(dropped.spec?.template.spec?.topologySpreadConstraints).toBeUndefined();
    expect(dropped.spec?.template.spec?.tolerations).toEqual(operatorSettings.tolerations);
    expect(dropped.spec?.template.spec?.containers[0]?.resources).toEqual(override.resources);

    await mergePatch(client, API.Datacenter, datacenterName, undefined, { spec: { gateway: { resources: { requests: { cpu: '300m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } } } } });
    await gatewayWhen('the gateway to take the new resources', (d) => d.spec?.template.spec?.containers[0]?.resources?.limits?.memory === '512Mi');
  });

  it('refuses an override of the labels the operator selects its pods by, naming the field and the rule', async () => {
    for (const label of ['app.kubernetes.io/instance', 'tenantbackup.io/space']) {
      const error = await refused(mergePatch(client, API.Datacenter, datacenterName, undefined, { spec: { gateway: { podLabels: { [label]: 'other' } } } }));
      expect(error.code, label).toBe(422);
      expect(error.message, label).toMatch(/spec\.gateway\.podLabels: Invalid value: .*must not set the labels the operator selects and manages its pods by/);
    }
    const error = await refused(mergePatch(client, API.Datacenter, datacenterName, undefined, { spec: { gateway: { resources: { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } } } } }));
    expect(error.message).toMatch(/spec\.gateway\.resources\.requests: Invalid value: .*every request needs a limit of the same resource, at least as large/);
    // Nothing of it reached the gateway.
    expect((await gateway())?.spec?.template.metadata?.labels).toMatchObject(gatewaySelector({ metadata: { name: 'vault' } }));
  });
});
