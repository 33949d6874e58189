/**
 * Runs the admission webhook inside the operator, on every replica (the API server may call any pod
 * behind the Service): keeps its serving certificate, starts the HTTPS server once there is one,
 * swaps certificates on renewal, and keeps the ValidatingWebhookConfiguration registered with the
 * matching CA bundle. Nothing here blocks the controllers: a failure is logged and retried.
 */
import type { Logger } from 'pino';
import { CertificateKeeper } from '../pki/certificate-keeper.ts';
import { PKI_SELECTOR } from '../pki/secret-issuer.ts';
import { operatorIssuedSource, secretSource } from '../pki/sources.ts';
import type { TlsMaterial } from '../pki/tls-secret.ts';
import type { InformerFactory } from '../runtime/informer-factory.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import type { KubeObject } from '../runtime/object.ts';
import { parseBindAddress } from '../runtime/listen-address.ts';
import { informerLookups, liveSpaces } from './lookups.ts';
import { servingNames, type WebhookOptions } from './options.ts';
import { registerWebhooks, WEBHOOK_SERVICE_PORT, type ClientTarget, type RegistrationOptions } from './registration.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';

export interface WebhookDependencies {
  client: KubeClient;
  informers: InformerFactory;
  logger: Logger;
  metrics?: RuntimeMetrics;
  settings?: { adminNamespaces?: readonly string[] };
}

export interface RunningWebhook {
  /** Serving (or disabled): for the readiness probe, so the Service only routes to pods that answer. */
  ready(): boolean;
  /** Closes the server; the certificate loop ends with the operator's stop signal. */
  stop(): Promise<void>;
}

/** Re-apply the configuration this often even when nothing changed, undoing edits and deletions. */
const REREGISTER_MS = 10 * 60_000;
/** Our own certificates are checked every 10 minutes (and at once when their Secrets change). */
const OPERATOR_CHECK_MS = 10 * 60_000;
/** cert-manager renews long before expiry; a minute's delay in noticing is harmless. */
const CERT_MANAGER_CHECK_MS = 60_000;

export function startWebhook(deps: WebhookDependencies, webhook: WebhookOptions | undefined, namespace: string, signal: AbortSignal): RunningWebhook {
  const bind = webhook ? parseBindAddress(webhook.bindAddress, '--webhook-bind-address') : undefined;
  if (!webhook || !bind) {
    deps.logger.info('admission webhook disabled');
    return { ready: () => true, stop: async () => undefined };
  }
  const options = webhook;
  const address = bind;
  const logger = deps.logger.child({ component: 'webhook' });
  const lookups = informerLookups(deps.informers, [namespace, ...(deps.settings?.adminNamespaces ?? [])]);
  const byOperator = options.certSource === 'operator';
  const source = byOperator
    ? operatorIssuedSource(deps.client, { namespace, secretName: options.secretName, request: { commonName: `${options.service}.${namespace}.svc`, ...servingNames(options, namespace) } })
    : secretSource(deps.client, namespace, options.secretName);
  const target: ClientTarget = options.url ? { url: options.url } : { service: { namespace, name: options.service, port: WEBHOOK_SERVICE_PORT } };

  let server: WebhookServer | undefined;
  let registered: { caBundle?: string; at: number } | undefined;

  async function serve(material: TlsMaterial): Promise<void> {
    const tls = { cert: material.certificate, key: material.privateKey };
    if (server) {
      server.setCertificate(tls);
      return;
    }
    server = await startWebhookServer({ ...address, tls, lookups, readSpaces: liveSpaces(deps.client), logger, registry: deps.metrics?.registry });
    logger.info({ port: server.port, target: options.url ?? `service ${namespace}/${options.service}:${WEBHOOK_SERVICE_PORT}` }, 'webhook serving');
  }

  async function register(material: TlsMaterial): Promise<void> {
    const registration: RegistrationOptions = byOperator
      ? { target, caBundle: material.ca }
      : { target, injectCaFrom: `${namespace}/${options.service}` };
    if (registered && registered.caBundle === registration.caBundle && Date.now() - registered.at < REREGISTER_MS) return;
    await registerWebhooks(deps.client, registration);
    if (registered?.caBundle !== registration.caBundle) logger.info({ certSource: options.certSource }, 'webhook configuration registered');
    registered = { caBundle: registration.caBundle, at: Date.now() };
  }

  const keeper = new CertificateKeeper(source, {
    intervalMs: byOperator ? OPERATOR_CHECK_MS : CERT_MANAGER_CHECK_MS,
    logger,
    onCertificate: serve,
    afterRefresh: register,
  });
  if (byOperator) {
    // A deleted or edited certificate Secret is put right at once, not at the next check.
    deps.informers.for<KubeObject>(K8S.Secret, { namespace, labelSelector: PKI_SELECTOR }).onEvent((event) => {
      if (event.type !== 'resync') keeper.poke();
    });
  }
  const running = keeper.run(signal);
  return {
    ready: () => server !== undefined,
    stop: async () => {
      await server?.close();
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    },
  };
}
