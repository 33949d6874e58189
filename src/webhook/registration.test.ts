import { describe, expect, it } from 'vitest';
import { desiredWebhookConfiguration, webhookName } from './registration.ts';
import { ROUTES } from './validators.ts';

interface Hook { name: string; failurePolicy: string; sideEffects: string; admissionReviewVersions: string[]; clientConfig: Record<string, unknown>; rules: { apiGroups: string[]; operations: string[]; resources: string[]; scope: string }[] }

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function hooks(object: ReturnType<typeof desiredWebhookConfiguration>): Hook[] {
  return object.webhooks as Hook[];
}

describe('desiredWebhookConfiguration', () => {
  it('registers the four kinds, failing closed, side-effect free, v1 reviews only', () => {
    const vwc = desiredWebhookConfiguration({ target: { service: { namespace: 'tb-system', name: 'tenant-backup-webhook', port: 443 } }, caBundle: PEM });
    expect(vwc.metadata.name).toBe('tenant-backup-operator');
    const all = hooks(vwc);
    expect(all.map((h) => h.name)).toEqual(['validate.backupspaces.tenantbackup.io', 'validate.endpoints.tenantbackup.io', 'validate.tenants.tenantbackup.io', 'validate.datacenters.tenantbackup.io']);
    for (const hook of all) {
      expect(hook).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'] });
      expect(hook.rules[0]?.apiGroups).toEqual(['tenantbackup.io']);
    }
    expect(all.map((h) => h.rules[0]?.operations)).toEqual([['CREATE', 'UPDATE', 'DELETE'], ['CREATE', 'UPDATE', 'DELETE'], ['CREATE', 'UPDATE'], ['UPDATE', 'DELETE']]);
    expect(all.map((h) => h.rules[0]?.scope)).toEqual(['Namespaced', 'Namespaced', 'Cluster', 'Cluster']);
  });

  it('points every webhook at the Service path the server serves, with the CA bundle', () => {
    const vwc = desiredWebhookConfiguration({ target: { service: { namespace: 'tb-system', name: 'tenant-backup-webhook', port: 443 } }, caBundle: PEM });
    const first = hooks(vwc)[0];
    expect(first?.clientConfig).toEqual({
      service: { namespace: 'tb-system', name: 'tenant-backup-webhook', port: 443, path: '/validate/backupspaces' },
      caBundle: Buffer.from(PEM).toString('base64'),
    });
    for (const hook of hooks(vwc)) expect(Object.keys(ROUTES)).toContain((hook.clientConfig.service as { path: string }).path);
  });

  it('uses a URL for a webhook outside the cluster', () => {
    const vwc = desiredWebhookConfiguration({ target: { url: 'https://127.0.0.1:9443/' }, caBundle: PEM });
    expect(hooks(vwc).map((h) => h.clientConfig.url)).toEqual([
      'https://127.0.0.1:9443/validate/backupspaces',
      'https://127.0.0.1:9443/validate/endpoints',
      'https://127.0.0.1:9443/validate/tenants',
      'https://127.0.0.1:9443/validate/datacenters',
    ]);
  });

  it('leaves the CA bundle to cert-manager\'s injector when asked to', () => {
    const vwc = desiredWebhookConfiguration({ target: { service: { namespace: 'tb', name: 'wh', port: 443 } }, injectCaFrom: 'tb/wh' });
    expect(vwc.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'tb/wh' });
    for (const hook of hooks(vwc)) expect(hook.clientConfig).not.toHaveProperty('caBundle');
  });

  it('names webhooks as kubectl users will read them', () => {
    expect(webhookName('backupspaces')).toBe('validate.backupspaces.tenantbackup.io');
  });
});
