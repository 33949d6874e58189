/** The operator command's webhook flags, and the options they make. */
import { isIP } from 'node:net';
import { Option, type Command } from 'commander';

export const CERT_SOURCES = ['operator', 'cert-manager'] as const;
export type CertSource = (typeof CERT_SOURCES)[number];

/** Secret holding the webhook's serving certificate (issued by the operator, or by cert-manager). */
export const WEBHOOK_TLS_SECRET = 'tenant-backup-webhook-tls';

export interface WebhookOptions {
  /** host:port or :port to serve on; '0' disables the webhook. */
  bindAddress: string;
  /** Service in the operator's namespace that fronts the webhook pods. */
  service: string;
  /** Base URL the API server calls instead of the Service (the operator runs outside the cluster). */
  url?: string;
  certSource: CertSource;
  secretName: string;
}

export interface WebhookFlags {
  webhookBindAddress: string;
  webhookService: string;
  webhookUrl?: string;
  webhookCertSource: CertSource;
}

/** An https base URL without credentials, query or fragment (the API server calls no other). */
export function httpsBaseUrl(flag: string): (value: string) => string {
  return (value: string): string => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`${flag} must be a URL like https://127.0.0.1:9443, not '${value}'`);
    }
    if (url.protocol !== 'https:') throw new Error(`${flag} must use https, not ${url.protocol.replace(':', '')}`);
    if (url.username || url.password || url.search || url.hash) throw new Error(`${flag} cannot carry credentials, a query or a fragment`);
    return url.toString().replace(/\/+$/, '');
  };
}

export const parseWebhookUrl = httpsBaseUrl('--webhook-url');

export function addWebhookFlags(command: Command): Command {
  return command
    .option('--webhook-bind-address <address>', 'HTTPS address of the validating admission webhook; 0 disables it (and its registration)', ':9443')
    .option('--webhook-service <name>', 'Service (in --namespace) through which the API server reaches the webhook', 'tenant-backup-webhook')
    .option('--webhook-url <base>', 'base URL the API server calls instead of the Service, e.g. https://127.0.0.1:9443 when the operator runs outside the cluster', parseWebhookUrl)
    .addOption(new Option('--webhook-cert-source <source>', `who issues the webhook's certificate (Secret ${WEBHOOK_TLS_SECRET}): operator (its own CA) or cert-manager (a Certificate named like --webhook-service; its CA is injected into the webhook configuration)`)
      .choices(CERT_SOURCES)
      .default('operator'));
}

export function webhookOptions(flags: WebhookFlags): WebhookOptions {
  return {
    bindAddress: flags.webhookBindAddress,
    service: flags.webhookService,
    ...(flags.webhookUrl ? { url: flags.webhookUrl } : {}),
    certSource: flags.webhookCertSource,
    secretName: WEBHOOK_TLS_SECRET,
  };
}

/** Names the serving certificate must carry: the Service's DNS names, and the URL's host if given. */
export function servingNames(options: Pick<WebhookOptions, 'service' | 'url'>, namespace: string): { dnsNames: string[]; ipAddresses: string[] } {
  const base = `${options.service}.${namespace}`;
  const dnsNames = [options.service, base, `${base}.svc`, `${base}.svc.cluster.local`];
  const ipAddresses: string[] = [];
  if (options.url) {
    const host = new URL(options.url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) ipAddresses.push(host);
    else if (!dnsNames.includes(host)) dnsNames.push(host);
  }
  return { dnsNames, ipAddresses };
}
