import { describe, expect, it } from 'vitest';
import type { ExportTarget } from '../../api/tenant.ts';
import { desiredExportEgress, exportEgressPolicyName, s3Destination, targetPort } from './termination-export-egress.ts';

const s3 = (endpoint?: string): ExportTarget => ({ s3: { bucket: 'exports', prefix: 'acme/', region: 'eu-south-1', ...(endpoint ? { endpoint } : {}), credentialsSecretRef: { namespace: 'provider', name: 's3-creds' } } });
const podLabels = { 'app.kubernetes.io/component': 'export', 'tenantbackup.io/export-id': 'term-0123' };

describe('the egress of export Jobs', () => {
  it('reaches the port the endpoint names, 443 when it names none or there is no endpoint (AWS)', () => {
    expect(targetPort(s3('https://s3.object-storage.svc:8333'))).toBe(8333);
    expect(targetPort(s3('https://s3.example.net'))).toBe(443);
    expect(targetPort(s3())).toBe(443);
  });

  it('opens only DNS to the cluster resolver and TCP to that port, for the pods of this export only', () => {
    const destination = s3Destination(s3('https://s3.object-storage.svc:8333'));
    expect(destination).toEqual({ port: 8333 });
    const policy = desiredExportEgress('tenant-acme', 'term-0123', 'export', podLabels, destination ?? { port: 0 });
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

  it('adds no ingress; a claim target is no S3 destination (its relay names its own)', () => {
    const policy = desiredExportEgress('tenant-acme', 'term-0123', 'export', podLabels, { port: 443 });
    expect((policy.spec as { ingress?: unknown }).ingress).toBeUndefined();
    expect(s3Destination({ persistentVolumeClaim: { namespace: 'p', claimName: 'c' } })).toBeUndefined();
  });

  it('opens to a destination\'s peers only when it names them', () => {
    const to = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'provider' } }, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'export-receiver' } } }];
    const policy = desiredExportEgress('tenant-acme', 'term-0123', 'export', podLabels, { port: 8443, to });
    expect((policy.spec as { egress: unknown[] }).egress[1]).toEqual({ to, ports: [{ protocol: 'TCP', port: 8443 }] });
  });
});
