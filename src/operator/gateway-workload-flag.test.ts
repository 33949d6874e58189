import { describe, expect, it } from 'vitest';
import { parseGatewayWorkload } from './gateway-workload-flag.ts';

const parse = parseGatewayWorkload('--gateway-workload');

describe('--gateway-workload', () => {
  it('takes the chart\'s JSON in the shape of a Datacenter\'s spec.gateway', () => {
    const value = { resources: { requests: { cpu: '200m', memory: 256 * 1024 * 1024 }, limits: { cpu: 2, memory: '1Gi' } }, priorityClassName: 'backup', tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }], podLabels: { team: 'storage' } };
    expect(parse(JSON.stringify(value))).toEqual(value);
    expect(parse('{}')).toEqual({});
  });

  it('refuses what the Datacenter schema refuses, naming the flag, the field and the rule', () => {
    expect(() => parse('{"resources":')).toThrow(/^--gateway-workload must be a JSON object/);
    expect(() => parse('[]')).toThrow(/^--gateway-workload must be a JSON object/);
    expect(() => parse('{"podLabels":{"app.kubernetes.io/name":"x"}}')).toThrow(/^--gateway-workload: podLabels: must not set the labels the operator selects and manages its pods by/);
    expect(() => parse('{"podLabels":{"tenantbackup.io/space":"x"}}')).toThrow(/podLabels: must not set the labels/);
    expect(() => parse('{"podLabels":{"bad key":"x"}}')).toThrow(/podLabels: keys must be label keys/);
    expect(() => parse('{"podAnnotations":{"tenantbackup.io/gateway-workload":"x"}}')).toThrow(/podAnnotations: must not set annotations under tenantbackup.io\//);
    expect(() => parse('{"resources":{"requests":{"memory":"1Gi"},"limits":{"memory":"512Mi"}}}')).toThrow(/resources.requests: every request needs a limit of the same resource, at least as large/);
    expect(() => parse('{"resources":{"requests":{"cpu":"1"}}}')).toThrow(/resources.requests: every request needs a limit/);
    expect(() => parse('{"resources":{"limits":{"memory":"8Gi"}}}')).toThrow(/resources.limits: must be at most cpu 4 and memory 4Gi/);
    expect(() => parse('{"resources":{"limits":{"gpu":"1"}}}')).toThrow(/resources.limits: resources may be cpu, memory, ephemeral-storage/);
    expect(() => parse('{"priorityClassName":"system-node-critical"}')).toThrow(/priorityClassName: the system- priority classes are reserved/);
    expect(() => parse('{"tolerations":[{"operator":"Exists","value":"x"}]}')).toThrow(/tolerations\[0\].value: a toleration with operator Exists takes no value/);
    expect(() => parse('{"topologySpreadConstraints":[{"maxSkew":0,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule"}]}')).toThrow(/topologySpreadConstraints\[0\].maxSkew/);
    expect(() => parse('{"nodeSelector":{}}')).toThrow(/nodeSelector: field not declared in schema/);
  });
});
