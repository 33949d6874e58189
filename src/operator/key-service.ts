/**
 * The key service: how a provider-custody gateway gets its space's data key without any Kubernetes
 * object holding it in plaintext (hardening item 10). The key Secret holds the data key wrapped by
 * the master key; at start the gateway asks here, over TLS, proving who it is with its projected
 * ServiceAccount token (audience KEY_SERVICE_AUDIENCE, so a token meant for the API server or
 * anything else does not pass). The operator checks the token with a TokenReview, requires it to be
 * exactly the space's gateway ServiceAccount in the space's namespace, unwraps the key and answers;
 * the gateway keeps it in memory only.
 *
 *   GET /v1/spaces/<namespace>/<space>/key   → 200 {keyId, dataKey (base64)}
 *   401 no or invalid token · 403 another identity · 404 no such space or key yet · 409 customer
 *   custody (only the customer's password opens that key) · 503 API server or master key unavailable
 *
 * Served on every replica (the gateways reach whichever pod the Service picks). Its certificate is
 * issued in memory by the operator's CA, whose certificate every gateway already has (ca.crt of its
 * TLS Secret), and re-issued well before it expires.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Logger } from 'pino';
import { DNS_LABEL_PATTERN } from '../api/schema.ts';
import { providerDataKey, SpaceKeyUnavailableError } from '../controllers/backupspace/keys.ts';
import { KEY_TOKEN_AUDIENCE } from '../controllers/backupspace/desired.ts';
import { spaceObjectNames } from '../controllers/labels.ts';
import { issueServingCertificate, type PemKeyPair } from '../pki/certificates.ts';
import { isCertificateCurrent } from '../pki/tls-secret.ts';
import { serverTlsOptions } from '../pki/tls-policy.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { checkRequest, serviceAccountUsername, type RequestAuthenticator } from '../runtime/kube/request-auth.ts';
import { listen } from '../runtime/probe-server.ts';

/** The audience of the tokens gateways present here (their projected token volume asks for it). */
export const KEY_SERVICE_AUDIENCE = KEY_TOKEN_AUDIENCE;

/** The space a key request names, or undefined when the path is not a key request. */
export function parseKeyPath(path: string): { namespace: string; name: string } | undefined {
  const match = /^\/v1\/spaces\/([^/]+)\/([^/]+)\/key$/.exec(path);
  if (!match?.[1] || !match[2]) return undefined;
  const [namespace, name] = [match[1], match[2]];
  const label = new RegExp(DNS_LABEL_PATTERN);
  return label.test(namespace) && label.test(name) && namespace.length <= 63 && name.length <= 63 ? { namespace, name } : undefined;
}

/** The one identity that may have a space's key: the space's gateway ServiceAccount, in its namespace. */
export function gatewayIdentity(namespace: string, name: string): string {
  return serviceAccountUsername(namespace, spaceObjectNames(name).serviceAccount);
}

export interface KeyServiceOptions {
  host: string;
  port: number;
  client: KubeClient;
  auth: RequestAuthenticator;
  masterKey: () => Promise<{ key: Buffer }>;
  certificateAuthority: () => Promise<PemKeyPair>;
  /** Names the serving certificate carries (the key Service's DNS names, a URL's host). */
  names: { dnsNames: string[]; ipAddresses: string[] };
  logger: Logger;
}

export interface KeyService {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Check the certificate this often; it is valid for 30 days and re-issued in its renewal window (tls-secret.ts). */
const CERTIFICATE_CHECK_MS = 6 * 3_600_000;

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(body);
}

const STATUS_OF: Record<SpaceKeyUnavailableError['reason'], number> = { SpaceNotFound: 404, KeyNotFound: 404, CustomerCustody: 409, KeyUnreadable: 503 };

export async function startKeyService(options: KeyServiceOptions): Promise<KeyService> {
  const { client, auth, logger } = options;

  async function issue(): Promise<{ cert: string; key: string; pem: string }> {
    const ca = await options.certificateAuthority();
    const issued = await issueServingCertificate(ca, { commonName: options.names.dnsNames[0] ?? 'tenant-backup-keys', ...options.names, validityDays: 30 });
    return { cert: `${issued.certificate}${ca.certificate}`, key: issued.privateKey, pem: issued.certificate };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') return send(response, 200, '{"status":"ok"}');
    const target = parseKeyPath(path);
    if (!target) return send(response, 404, 'not found: the key of a space is at /v1/spaces/<namespace>/<space>/key');
    if (request.method !== 'GET') return send(response, 405, 'method not allowed', { allow: 'GET' });
    const verdict = await checkRequest(auth, request.headers.authorization);
    if (!verdict.ok) {
      if (verdict.status === 503) logger.warn({ space: `${target.namespace}/${target.name}`, reason: verdict.message }, 'key request not checked');
      return send(response, verdict.status, verdict.message, verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    }
    const wanted = gatewayIdentity(target.namespace, target.name);
    if (verdict.identity.username !== wanted) {
      logger.warn({ space: `${target.namespace}/${target.name}`, caller: verdict.identity.username }, 'key request refused: not the space\'s gateway');
      return send(response, 403, `${verdict.identity.username} is not ${wanted}: only the space's gateway may have its key`);
    }
    let master: Buffer;
    try {
      master = (await options.masterKey()).key;
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'key request: the master key is not available');
      return send(response, 503, 'the operator\'s master key is not available', { 'retry-after': '10' });
    }
    let found: { keyId: string; dataKey: Buffer };
    try {
      found = await providerDataKey(client, master, target.namespace, target.name);
    } catch (error) {
      if (error instanceof SpaceKeyUnavailableError) return send(response, STATUS_OF[error.reason], error.message);
      logger.warn({ space: `${target.namespace}/${target.name}`, err: error instanceof Error ? error.message : String(error) }, 'key request failed');
      return send(response, 503, 'the space\'s key could not be read from the API server', { 'retry-after': '5' });
    }
    const body = JSON.stringify({ keyId: found.keyId, dataKey: found.dataKey.toString('base64') });
    found.dataKey.fill(0);
    logger.info({ space: `${target.namespace}/${target.name}`, keyId: found.keyId }, 'data key handed to the space\'s gateway');
    send(response, 200, body);
  }

  let current = await issue();
  const server = createServer(serverTlsOptions(current), (request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'key service request failed');
      send(response, 500, 'the key service failed to answer');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('tlsClientError', (error) => logger.debug({ err: error.message }, 'key service TLS handshake refused'));
  const renewal = setInterval(() => {
    void (async () => {
      const ca = await options.certificateAuthority();
      if (isCertificateCurrent({ certificate: current.pem, privateKey: current.key }, ca.certificate, options.names)) return;
      current = await issue();
      server.setSecureContext(serverTlsOptions(current));
      logger.info('key service certificate renewed');
    })().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'key service certificate not renewed; will retry'));
  }, CERTIFICATE_CHECK_MS);
  renewal.unref();
  const { port } = await listen(server, options.host, options.port);
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => {
      clearInterval(renewal);
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  };
}
