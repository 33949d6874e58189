import { describe, expect, it } from 'vitest';
import { datacenter, space } from '../../../test/support/objects.ts';
import { GATEWAY_WORKLOAD_ANNOTATION, INSTANCE_LABEL, NAME_LABEL } from '../labels.ts';
import { desiredGateway, gatewaySelector } from './desired.ts';
import { DEFAULT_GATEWAY_WORKLOAD, gatewayPodFields, gatewayWorkloadDigest, mergeGatewayWorkload } from './gateway-workload.ts';

const keyService = { url: 'https://tenant-backup-keys.tbo.svc:9444', namespace: 'tbo', port: 9444 };
const values = {
  priorityClassName: 'backup-gateways',
  tolerations: [{ key: 'dedicated', operator: 'Equal' as const, value: 'storage', effect: 'NoSchedule' as const }],
  podLabels: { team: 'storage', tier: 'gold' },
  podAnnotations: { 'example.com/scrape': 'true' },
};

describe('gateway pod settings', () => {
  it('layers defaults ← operator values ← datacenter: resources, class and lists replace, labels and annotations merge', () => {
    const merged = mergeGatewayWorkload(DEFAULT_GATEWAY_WORKLOAD, values, {
      resources: { requests: { memory: '256Mi' }, limits: { memory: '1Gi' } },
      tolerations: [],
      podLabels: { tier: 'platinum' },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    });
    expect(merged).toEqual({
      // Whole: the default cpu request does not survive beside the datacenter's memory-only block.
      resources: { requests: { memory: '256Mi' }, limits: { memory: '1Gi' } },
      priorityClassName: 'backup-gateways',
      tolerations: [],
      podLabels: { team: 'storage', tier: 'platinum' },
      podAnnotations: { 'example.com/scrape': 'true' },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    });
    // Absent layers and absent fields leave the lower layer as it is.
    expect(mergeGatewayWorkload(DEFAULT_GATEWAY_WORKLOAD, undefined, {})).toEqual(DEFAULT_GATEWAY_WORKLOAD);
  });

  it('keeps the operator\'s labels over any setting, and points every spread constraint at the space\'s own pods', () => {
    const selector = { [NAME_LABEL]: 'tenant-backup-gateway', [INSTANCE_LABEL]: 'vault' };
    const fields = gatewayPodFields(
      { podLabels: { [NAME_LABEL]: 'something-else', [INSTANCE_LABEL]: 'other', team: 'storage' }, topologySpreadConstraints: [{ maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] },
      selector,
      selector,
    );
    expect(fields.labels).toEqual({ ...selector, team: 'storage' });
    expect(fields.spec.topologySpreadConstraints).toEqual([{ maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: selector } }]);
    expect(gatewayPodFields({ resources: { requests: { cpu: 1 }, limits: { cpu: 2, memory: '1Gi' } } }, selector, selector).resources).toEqual({ requests: { cpu: '1' }, limits: { cpu: '2', memory: '1Gi' } });
    // Nothing set, nothing written: no empty lists or annotations on the pod.
    expect(gatewayPodFields({}, selector, selector)).toEqual({ labels: selector, spec: {}, resources: undefined });
  });

  it('builds the gateway Deployment from the merged settings, its selector labels untouched by a datacenter', () => {
    const milan = datacenter('it-mil1', 'IT', { gateway: { resources: { requests: { cpu: '250m', memory: '192Mi' }, limits: { cpu: '2', memory: '640Mi' } }, podLabels: { [NAME_LABEL]: 'hijack', zone: 'a' } } });
    const vault = space('vault', 'tenant-acme');
    const deployment = desiredGateway(vault, 'acme', milan, { gatewayImage: 'img', gatewayWorkload: values, keyService }) as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: { priorityClassName?: string; tolerations?: unknown[]; containers: { resources: unknown }[] } } };
    };
    const template = deployment.spec.template;
    expect(template.spec.containers[0]?.resources).toEqual({ requests: { cpu: '250m', memory: '192Mi' }, limits: { cpu: '2', memory: '640Mi' } });
    expect(template.spec.priorityClassName).toBe('backup-gateways');
    expect(template.spec.tolerations).toEqual(values.tolerations);
    expect(template.metadata.annotations).toEqual(values.podAnnotations);
    expect(template.metadata.labels).toMatchObject({ ...gatewaySelector(vault), team: 'storage', tier: 'gold', zone: 'a' });
    expect(deployment.spec.selector.matchLabels).toEqual(gatewaySelector(vault));
    // Without any settings: the benchmark-sized defaults.
    const plain = desiredGateway(vault, 'acme', datacenter('it-mil1', 'IT'), { gatewayImage: 'img', keyService }) as unknown as typeof deployment;
    expect(plain.spec.template.spec.containers[0]?.resources).toEqual(DEFAULT_GATEWAY_WORKLOAD.resources);
    expect(plain.spec.template.spec.priorityClassName).toBeUndefined();
    expect(plain.metadata.annotations[GATEWAY_WORKLOAD_ANNOTATION]).not.toBe(deployment.metadata.annotations[GATEWAY_WORKLOAD_ANNOTATION]);
  });

  it('digests settings independently of key order, and differently when a setting goes', () => {
    expect(gatewayWorkloadDigest({ podLabels: { a: '1', b: '2' }, priorityClassName: 'p' })).toBe(gatewayWorkloadDigest({ priorityClassName: 'p', podLabels: { b: '2', a: '1' } }));
    expect(gatewayWorkloadDigest({ tolerations: [{ key: 'k', operator: 'Exists' }] })).not.toBe(gatewayWorkloadDigest({}));
  });
});
