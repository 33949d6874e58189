import { describe, expect, it } from 'vitest';
import { datacenter, space } from '../../../test/support/objects.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { desiredWorkload } from './workload-step.ts';

const milan = datacenter('it-mil1', 'IT');
const settings = { gatewayImage: 'registry.example/tbo:1', keyService: { url: 'https://tenant-backup-keys.tbo.svc:9444', namespace: 'tbo', port: 9444 } };

describe('the workload step', () => {
  it('applies the volume, ServiceAccount, gateway, both Services, the peers policy and a budget, each as its own resource', () => {
    const desired = desiredWorkload({ space: space('main', 'tenant-acme', { replicas: 2 }), tenantName: 'acme', datacenter: milan }, settings, undefined);
    expect(desired.objects.map(({ ref, object }) => [ref.plural, object.metadata.name])).toEqual([
      [K8S.PersistentVolumeClaim.plural, 'main-data'],
      [K8S.ServiceAccount.plural, 'main-gateway'],
      [K8S.Deployment.plural, 'main-gateway'],
      [K8S.Service.plural, 'main-gateway'],
      [K8S.Service.plural, 'main-gateway-peers'],
      [K8S.NetworkPolicy.plural, expect.stringContaining('main')],
      [K8S.PodDisruptionBudget.plural, 'main-gateway'],
    ]);
    expect(desired.withDisruptionBudget).toBe(true);
  });

  it('has no disruption budget for one replica (it would block every drain), and puts the fixed address on the Service', () => {
    const desired = desiredWorkload({ space: space('main', 'tenant-acme', { replicas: 1 }), tenantName: 'acme', datacenter: milan }, settings, '203.0.113.4');
    expect(desired.withDisruptionBudget).toBe(false);
    expect(desired.objects.some(({ ref }) => ref === K8S.PodDisruptionBudget)).toBe(false);
    const service = desired.objects.find(({ object }) => object.metadata.name === 'main-gateway' && object.kind === 'Service')?.object as unknown as { spec: { loadBalancerIP?: string } };
    expect(service.spec.loadBalancerIP).toBe('203.0.113.4');
  });
});
