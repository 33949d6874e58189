import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { datacenter } from '../../../test/support/objects.ts';
import { egressAllowed, ingressAllowed, type Party } from '../../../test/support/network-policy.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../pki/certificates.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { desiredExportEgress } from './termination-export-egress.ts';
import { desiredExportJob } from './termination-export-job.ts';
import {
  claimLocation, desiredClaimVerifyJob, desiredReceiverIngress, desiredReceiverJob, desiredReceiverSecret, desiredReceiverService, desiredRelaySecret,
  exportPodSelector, parseClaimLocation, receiverDnsNames, receiverUrl, relayDestination, relayNames,
} from './termination-export-relay.ts';
import type { ExportRequest } from './termination-runner.ts';

const EXPORT_ID = 'term-0123456789abcdef0123';
const request: ExportRequest = {
  tenant: 'acme',
  organization: 'Provider S.p.A.',
  createdAt: new Date('2026-12-02T08:00:00Z'),
  space: { name: 'main', namespace: 'tenant-acme', uid: 'u1', datacenter: 'it-mil1', exportId: EXPORT_ID },
  target: { persistentVolumeClaim: { namespace: 'provider', claimName: 'exports' } },
};
const dc = datacenter('it-mil1', 'IT');
const receiverJobObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: `receive-${EXPORT_ID}`, namespace: 'provider', uid: 'job-uid' } };
const countryOnly = [{ matchExpressions: [{ key: 'tenantbackup.io/country', operator: 'In', values: ['IT'] }] }];

describe('the relay to a claim of another namespace', () => {
  it('names everything by the export id, in the claim\'s namespace but for the tenant\'s copy of the CA and token', () => {
    const names = relayNames(EXPORT_ID);
    expect(Object.values(names).every((n) => n.includes(EXPORT_ID) && n.length <= 63)).toBe(true);
    expect(desiredReceiverService(request, receiverJobObject).metadata).toMatchObject({ name: names.service, namespace: 'provider', labels: { 'tenantbackup.io/tenant': 'acme', 'tenantbackup.io/export-id': EXPORT_ID } });
    expect(desiredReceiverJob(request, dc, 'img').metadata).toMatchObject({ name: names.receiverJob, namespace: 'provider' });
    expect(desiredReceiverIngress(request).metadata).toMatchObject({ name: names.ingressPolicy, namespace: 'provider' });
    expect(desiredRelaySecret(request, 'ca', 'token').metadata).toMatchObject({ name: names.relaySecret, namespace: 'tenant-acme' });
    expect(receiverUrl(EXPORT_ID, 'provider')).toBe(`https://${names.service}.provider.svc:8443/`);
    // The Service goes with the receiver Job (garbage collector), without blocking its deletion.
    expect(desiredReceiverService(request, receiverJobObject).metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: names.receiverJob, uid: 'job-uid', controller: true, blockOwnerDeletion: false }]);
  });

  it('runs the receiver beside the claim, mounted read-write, held to the space\'s country; secrets only as mounted files', () => {
    const job = desiredReceiverJob(request, dc, 'registry.example/tbo:1');
    const pod = job.spec?.template.spec;
    const container = pod?.containers[0];
    expect(pod?.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'exports' } });
    expect(container?.volumeMounts).toContainEqual({ name: 'claim', mountPath: '/export' });
    expect(pod?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual(countryOnly);
    expect(container?.args).toEqual(['receive-export', '--dir', '/export', '--location', 'pvc://provider/exports', '--listen', ':8443', '--archive', `acme_main_${EXPORT_ID}.tar`,
      '--tls-cert-file', '/etc/export-receiver/tls.crt', '--tls-key-file', '/etc/export-receiver/tls.key', '--token-file', '/etc/export-receiver/token']);
    expect(container?.env).toEqual([]);
    expect(container?.readinessProbe).toMatchObject({ tcpSocket: { port: 8443 } });
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    // The Service selects exactly these pods, on the pod's own port.
    const service = desiredReceiverService(request, receiverJobObject).spec as { selector: Record<string, string>; ports: { port: number; targetPort: number }[] };
    expect(Object.entries(service.selector).every(([k, v]) => job.spec?.template.metadata?.labels?.[k] === v)).toBe(true);
    expect(service.ports).toEqual([{ name: 'https', port: 8443, targetPort: 8443, protocol: 'TCP' }]);
  });

  it('verifies beside the claim, mounted read-only, re-reading the file with verify-export', () => {
    const job = desiredClaimVerifyJob(request, dc, 'img', 'acme_main_x.tar');
    const pod = job.spec?.template.spec;
    expect(job.metadata).toMatchObject({ name: relayNames(EXPORT_ID).verifyJob, namespace: 'provider' });
    expect(pod?.containers[0]?.args).toEqual(['verify-export', '/export/acme_main_x.tar']);
    expect(pod?.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'exports', readOnly: true } });
    expect(pod?.containers[0]?.volumeMounts).toContainEqual({ name: 'claim', mountPath: '/export', readOnly: true });
    expect(pod?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual(countryOnly);
  });

  it('keeps the receiver\'s certificate for its Service\'s names and the token in one Secret, and only CA and token in the tenant\'s copy', async () => {
    const ca = await createCertificateAuthority('test-ca', 1);
    const dnsNames = receiverDnsNames(EXPORT_ID, 'provider');
    const issued = await issueServingCertificate(ca, { commonName: dnsNames[2] ?? '', dnsNames, validityDays: 1 });
    const secret = desiredReceiverSecret(request, { ...issued, ca: ca.certificate }, 'the-token');
    const data = secret.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key', 'token']);
    expect(new X509Certificate(Buffer.from(data['tls.crt'] ?? '', 'base64')).checkHost(`${relayNames(EXPORT_ID).service}.provider.svc`)).toBeTruthy();
    const copy = desiredRelaySecret(request, ca.certificate, 'the-token').data as Record<string, string>;
    expect(Object.keys(copy).sort()).toEqual(['ca.crt', 'token']);
    expect(Buffer.from(copy.token ?? '', 'base64').toString()).toBe('the-token');
  });

  it('lets only this export\'s pod of the tenant\'s namespace reach the receiver, on its port, and the export pod nothing else', () => {
    const exportLabels = desiredExportJob(request, dc, 'img', 'export').spec?.template.metadata?.labels ?? {};
    const receiverLabels = desiredReceiverJob(request, dc, 'img').spec?.template.metadata?.labels ?? {};
    const tenantNs = { 'kubernetes.io/metadata.name': 'tenant-acme' };
    const providerNs = { 'kubernetes.io/metadata.name': 'provider' };
    const exporter: Party = { ip: '10.0.0.5', namespace: tenantNs, pod: exportLabels };
    const receiver: Party = { ip: '10.0.1.7', namespace: providerNs, pod: receiverLabels };
    const deny: ApplyObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'tenant-acme' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
    const policies = [deny, desiredExportEgress('tenant-acme', EXPORT_ID, 'export', exportPodSelector(EXPORT_ID), relayDestination(request)), desiredReceiverIngress(request)];
    const https = { protocol: 'TCP' as const, port: 8443 };
    expect(egressAllowed(policies, exporter, receiver, https)).toBe(true);
    expect(ingressAllowed(policies, exporter, receiver, https)).toBe(true);
    // Another port, another pod of the provider, the internet: not from the export pod.
    expect(egressAllowed(policies, exporter, receiver, { protocol: 'TCP', port: 22 })).toBe(false);
    expect(egressAllowed(policies, exporter, { ip: '10.0.1.8', namespace: providerNs, pod: { app: 'db' } }, https)).toBe(false);
    expect(egressAllowed(policies, exporter, { ip: '203.0.113.9' }, https)).toBe(false);
    // Into the receiver: not a gateway of the same tenant, not another tenant's export pod, not the internet.
    expect(ingressAllowed(policies, { ip: '10.0.0.6', namespace: tenantNs, pod: { 'app.kubernetes.io/component': 'gateway' } }, receiver, https)).toBe(false);
    expect(ingressAllowed(policies, { ip: '10.0.2.5', namespace: { 'kubernetes.io/metadata.name': 'tenant-other' }, pod: exportLabels }, receiver, https)).toBe(false);
    expect(ingressAllowed(policies, { ip: '203.0.113.9' }, receiver, https)).toBe(false);
  });

  it('records where the archive is as pvc://<namespace>/<claim>/<archive>, and reads that back', () => {
    const location = `${claimLocation({ namespace: 'provider', claimName: 'exports' })}/acme_main_x.tar`;
    expect(location).toBe('pvc://provider/exports/acme_main_x.tar');
    expect(parseClaimLocation(location)).toEqual({ namespace: 'provider', claimName: 'exports', archive: 'acme_main_x.tar' });
    expect(parseClaimLocation('pvc://provider/exports/sub/acme_main_x.tar')).toBeNull();
    expect(parseClaimLocation('s3://b/k.tar')).toBeNull();
  });
});
