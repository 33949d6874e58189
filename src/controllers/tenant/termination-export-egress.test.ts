import { describe, expect, it } from 'vitest';
import type { ExportTarget } from '../../api/tenant.ts';
import { desiredExportEgress, exportEgressPolicyName, targetPort } from './termination-export-egress.ts';

const s3 = (endpoint?: string): ExportTarget => ({ s3: { bucket: 'exports', prefix: 'acme/', region: 'eu-south-1', ...(endpoint ? { endpoint } : {}), credentialsSecretRef: { namespace: 'provider', name: 's3-creds' } } });
const podLabels = { 'app.kubernetes.io/component': 'export', 'tenantbackup.io/export-id': 'term-0123' };

describe('the egress of export Jobs', () => {
  it('reaches the port the endpoint names, 443 when it names none or there is no endpoint (AWS)', () => {
    expect(targetPort(s3('https://s3.object-storage.svc:8333'))).toBe(8333);
    expect(targetPort(s3('https://s3.example.net'))).toBe(443);
    expect(targetPort(s3())).toBe(443);
  });

  it('opens only DNS to the cluster resolver and TCP to that port, for the pods of this export only', () => {
    const policy = desiredExportEgress('tenant-acme', 'term-0123', 'export', podLabels, s3('https://s3.object-storage.svc:8333'));
    expect(policy?.metadata).toMatchObject({ name: exportEgressPolicyName('term-0123'), namespace: 'tenant-acme', labels: { 'app.kubernetes.io/component': 'export' } });
    expect(policy?.spec).toEqual({
      podSelector: { matchLabels: podLabels },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        },
        { ports: [{ protocol: 'TCP', port: 8333 }] },
      ],
    });
  });

  it('adds no ingress, and nothing at all for a volume target', () => {
    const policy = desiredExportEgress('tenant-acme', 'term-0123', 'export', podLabels, s3());
    expect((policy?.spec as { ingress?: unknown }).ingress).toBeUndefined();
    expect(desiredExportEgress('tenant-acme', 'term-0123', 'export', podLabels, { persistentVolumeClaim: { namespace: 'p', claimName: 'c' } })).toBeUndefined();
  });
});
