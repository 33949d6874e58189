import { describe, expect, it } from 'vitest';
import { datacenter } from '../../../test/support/objects.ts';
import { desiredExportEgress } from './termination-export-egress.ts';
import { desiredExportJob, exportJobName, parseResultLine } from './termination-export-job.ts';
import type { ExportRequest } from './termination-runner.ts';

const request: ExportRequest = {
  tenant: 'acme',
  organization: 'Provider S.p.A.',
  createdAt: new Date('2026-12-02T08:00:00Z'),
  space: { name: 'main', namespace: 'tenant-acme', uid: 'u1', datacenter: 'it-mil1', exportId: 'term-0123456789abcdef0123' },
  target: { s3: { bucket: 'exports', prefix: 'acme/', region: 'eu-south-1', endpoint: 'https://s3.example.net', credentialsSecretRef: { namespace: 'provider', name: 's3-creds' }, caBundle: { configMapRef: { namespace: 'provider', name: 'ca' } } } },
};

describe('the export Job', () => {
  const job = desiredExportJob(request, datacenter('it-mil1', 'IT'), 'registry.example/tbo:1', 'export');
  const pod = job.spec?.template.spec;
  const container = pod?.containers[0];

  it('runs in the space\'s namespace, named by the export id, pinned like the gateway to the datacenter\'s nodes', () => {
    expect(job.metadata).toMatchObject({ name: exportJobName(request.space.exportId, 'export'), namespace: 'tenant-acme' });
    expect(pod?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['it-mil1'] }, { key: 'tenantbackup.io/country', operator: 'In', values: ['IT'] }] }]);
    expect(pod?.affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm).toMatchObject({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'main', 'app.kubernetes.io/component': 'gateway' } } });
  });

  it('runs the image\'s export subcommand with the deterministic id and creation time, its stdout as the termination message', () => {
    expect(container?.image).toBe('registry.example/tbo:1');
    expect(container?.command?.slice(0, 2)).toEqual(['sh', '-c']);
    expect(container?.command?.[2]).toContain('> /dev/termination-log');
    expect(container?.args).toEqual(['export', '--data-dir', '/data', '--config-dir', '/etc/gateway', '--tenant', 'acme', '--export-id', 'term-0123456789abcdef0123', '--organization', 'Provider S.p.A.', '--created', '2026-12-02T08:00:00.000Z',
      '--s3-bucket', 'exports', '--s3-prefix', 'acme/', '--s3-region', 'eu-south-1', '--s3-endpoint', 'https://s3.example.net', '--s3-ca-file', '/etc/export-ca/ca.crt']);
  });

  it('mounts the space\'s volume read-only and the gateway\'s configuration (its key material), S3 credentials from a copy in the namespace, never in args', () => {
    expect(pod?.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'main-data', readOnly: true } });
    expect(pod?.volumes).toContainEqual({ name: 'config', projected: { defaultMode: 0o440, sources: [{ secret: { name: 'main-gateway-config' } }, { secret: { name: 'main-gateway-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } });
    expect(container?.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data', readOnly: true });
    expect(container?.env?.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name])).toEqual([['AWS_ACCESS_KEY_ID', `${request.space.exportId}-s3`], ['AWS_SECRET_ACCESS_KEY', `${request.space.exportId}-s3`]]);
    expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('gets a provider data key from the key service as the space\'s gateway ServiceAccount, and its egress opens to it (hardening item 10)', () => {
    const keyService = { url: 'https://tenant-backup-keys.tbo.svc:9444', namespace: 'tbo', port: 9444 };
    const withKeys = desiredExportJob(request, datacenter('it-mil1', 'IT'), 'img', 'export', undefined, keyService);
    const spec = withKeys.spec?.template.spec;
    expect(spec?.serviceAccountName).toBe('main-gateway');
    expect(spec?.automountServiceAccountToken).toBe(false);
    expect(spec?.containers[0]?.args?.slice(-4)).toEqual(['--key-service-url', keyService.url, '--key-token-file', '/var/run/secrets/tenantbackup.io/key-service/token']);
    expect(spec?.volumes?.find((v) => v.name === 'key-token')?.projected?.sources?.[0]?.serviceAccountToken).toMatchObject({ audience: 'tenantbackup.io/key-service' });
    const egress = desiredExportEgress('tenant-acme', request.space.exportId, 'export', { 'tenantbackup.io/export-id': request.space.exportId }, undefined, keyService) as unknown as { spec: { egress: { ports: { port: number }[] }[] } };
    expect(egress.spec.egress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([53, 53, 9444]);
    // A verify Job beside its claim asks nobody: no policy at all.
    expect(desiredExportEgress('tenant-acme', request.space.exportId, 'export', {}, undefined, undefined)).toBeUndefined();
  });

  it('verifies with a second Job that re-reads the archive and mounts no data', () => {
    const verify = desiredExportJob(request, datacenter('it-mil1', 'IT'), 'img', 'verify', 's3://exports/acme/a.tar');
    expect(verify.metadata?.name).toBe(exportJobName(request.space.exportId, 'verify'));
    expect(verify.spec?.template.spec?.containers[0]?.args).toEqual(['verify-export', 's3://exports/acme/a.tar', '--s3-region', 'eu-south-1', '--s3-endpoint', 'https://s3.example.net', '--s3-ca-file', '/etc/export-ca/ca.crt']);
    expect(verify.spec?.template.spec?.volumes?.map((v) => v.name)).toEqual(['ca', 'tmp']);
  });

  it('sends to a claim target through the relay\'s receiver, presenting the CA and token as mounted files only', () => {
    const toClaim = desiredExportJob({ ...request, target: { persistentVolumeClaim: { namespace: 'provider', claimName: 'exports' } } }, datacenter('it-mil1', 'IT'), 'img', 'export');
    const spec = toClaim.spec?.template.spec;
    expect(toClaim.metadata?.namespace).toBe('tenant-acme');
    expect(spec?.containers[0]?.args?.slice(-6)).toEqual(['--http-target', 'https://term-0123456789abcdef0123-receiver.provider.svc:8443/', '--http-ca-file', '/etc/export-relay/ca.crt', '--http-token-file', '/etc/export-relay/token']);
    expect(spec?.volumes).toContainEqual({ name: 'relay', secret: { secretName: 'term-0123456789abcdef0123-relay', defaultMode: 0o440 } });
    expect(spec?.containers[0]?.volumeMounts).toContainEqual({ name: 'relay', mountPath: '/etc/export-relay', readOnly: true });
    expect(spec?.containers[0]?.env).toEqual([]);
    // The claim itself is not mounted here: the export pod could not (another namespace).
    expect(spec?.volumes?.filter((v) => v.persistentVolumeClaim).map((v) => v.persistentVolumeClaim?.claimName)).toEqual(['main-data']);
  });
});

describe('the result line', () => {
  it('is the last JSON object with a sha256 in the message', () => {
    expect(parseResultLine('noise\n{"exportId":"x","location":"/t/a.tar","size":10,"sha256":"ab"}\n')).toEqual({ exportId: 'x', location: '/t/a.tar', size: 10, sha256: 'ab' });
    expect(parseResultLine('{"not":"it"}')).toBeUndefined();
    expect(parseResultLine('{broken}')).toBeUndefined();
  });
});
