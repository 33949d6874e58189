import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addWebhookFlags, parseWebhookUrl, servingNames, webhookOptions, type WebhookFlags } from './options.ts';

function parse(args: string[]): WebhookFlags {
  const command = addWebhookFlags(new Command('operator')).exitOverride().configureOutput({ writeErr: () => undefined });
  command.parse(args, { from: 'user' });
  return command.opts<WebhookFlags>();
}

describe('webhook flags', () => {
  it('default to serving on :9443 behind the tenant-backup-webhook Service with the operator\'s own certificates', () => {
    expect(webhookOptions(parse([]))).toEqual({ bindAddress: ':9443', service: 'tenant-backup-webhook', certSource: 'operator', secretName: 'tenant-backup-webhook-tls' });
  });

  it('take a URL, a bind address and cert-manager', () => {
    expect(webhookOptions(parse(['--webhook-url', 'https://127.0.0.1:9443/', '--webhook-bind-address', '127.0.0.1:9443', '--webhook-cert-source', 'cert-manager']))).toEqual({
      bindAddress: '127.0.0.1:9443', service: 'tenant-backup-webhook', url: 'https://127.0.0.1:9443', certSource: 'cert-manager', secretName: 'tenant-backup-webhook-tls',
    });
  });

  it('refuse an unknown certificate source', () => {
    expect(() => parse(['--webhook-cert-source', 'vault'])).toThrow(/Allowed choices are operator, cert-manager/);
  });

  it('accept only URLs the API server can call', () => {
    expect(parseWebhookUrl('https://webhook.example.com:8443/base/')).toBe('https://webhook.example.com:8443/base');
    expect(() => parseWebhookUrl('http://127.0.0.1:9443')).toThrow('must use https');
    expect(() => parseWebhookUrl('https://u:p@127.0.0.1:9443')).toThrow('credentials');
    expect(() => parseWebhookUrl('https://127.0.0.1:9443/?x=1')).toThrow('query');
    expect(() => parseWebhookUrl('127.0.0.1:9443')).toThrow();
  });
});

describe('servingNames', () => {
  const options = webhookOptions(parse([]));

  it('covers every DNS name of the Service', () => {
    expect(servingNames(options, 'tb-system')).toEqual({
      dnsNames: ['tenant-backup-webhook', 'tenant-backup-webhook.tb-system', 'tenant-backup-webhook.tb-system.svc', 'tenant-backup-webhook.tb-system.svc.cluster.local'],
      ipAddresses: [],
    });
  });

  it('adds the URL host, as an IP address or a DNS name', () => {
    expect(servingNames({ ...options, url: 'https://127.0.0.1:9443' }, 'ns').ipAddresses).toEqual(['127.0.0.1']);
    expect(servingNames({ ...options, url: 'https://[::1]:9443' }, 'ns').ipAddresses).toEqual(['::1']);
    expect(servingNames({ ...options, url: 'https://dev.example.com' }, 'ns').dnsNames).toContain('dev.example.com');
  });
});
