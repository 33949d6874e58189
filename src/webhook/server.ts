/**
 * The validating admission webhook's HTTPS server: one path per kind (validators.ts), /healthz, TLS
 * 1.2 or newer only (S2). Its certificate can be swapped while it runs (renewal), and no request,
 * however malformed or large, can crash it or hold it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { serverTlsOptions } from '../pki/tls-policy.ts';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { BackupSpace } from '../api/types.ts';
import { errorVerdict, parseReview, reviewResponse, type AdmissionRequest, type Verdict } from './review.ts';
import { admit, ROUTES, type AdmissionLookups, type WebhookRoute } from './validators.ts';

/**
 * An AdmissionReview carries the object twice (old and new) and an object may be up to 1.5 MiB in
 * etcd; 7 MiB is what controller-runtime allows too.
 */
export const MAX_BODY_BYTES = 7 * 1024 * 1024;

export interface ServingCertificate {
  cert: string;
  key: string;
}

export interface WebhookServerOptions {
  host: string;
  port: number;
  tls: ServingCertificate;
  lookups: AdmissionLookups;
  /** Every BackupSpace as the API server has it now, for routes that must not judge from a cache. */
  readSpaces?: () => Promise<BackupSpace[]>;
  logger: Logger;
  registry?: Registry;
}

export interface WebhookServer {
  server: Server;
  port: number;
  /** Serves a renewed certificate to new connections from now on. */
  setCertificate(tls: ServingCertificate): void;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers }).end(body);
}

export function decisionCounter(registry: Registry | undefined): Counter<'resource' | 'operation' | 'result' | 'code'> | undefined {
  if (!registry) return undefined;
  const name = 'tenantbackup_webhook_admission_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'resource' | 'operation' | 'result' | 'code'>;
  return new Counter({
    name,
    help: 'Admission requests answered by the webhook, by resource, operation and result (allowed, denied: a rule refused it, error: the request or the webhook failed)',
    labelNames: ['resource', 'operation', 'result', 'code'],
    registers: [registry],
  });
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { lookups, logger } = options;
  const decisions = decisionCounter(options.registry);

  async function judge(route: WebhookRoute, review: AdmissionRequest): Promise<Verdict> {
    if (!route.consistentSpaces || !options.readSpaces) return admit(route, review, lookups);
    let spaces: BackupSpace[];
    try {
      spaces = await options.readSpaces();
    } catch (error) {
      return errorVerdict(503, `the webhook could not read the backup spaces from the API server to judge this request (${error instanceof Error ? error.message : String(error)}); retry`);
    }
    return admit(route, review, { ...lookups, spaces: () => spaces });
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      send(response, 200, 'ok');
      return;
    }
    const route = ROUTES[path];
    if (!route) {
      send(response, 404, `no webhook at ${path}; the paths are ${Object.keys(ROUTES).join(', ')}`);
      return;
    }
    if (request.method !== 'POST') {
      send(response, 405, 'admission reviews are POSTed', undefined, { allow: 'POST' });
      return;
    }
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/json') {
      send(response, 415, `expected Content-Type application/json, not ${contentType || 'none'}`);
      return;
    }
    let body: string;
    try {
      body = await readBody(request, MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        send(response, 413, `the request body is larger than ${MAX_BODY_BYTES} bytes`, undefined, { connection: 'close' });
        request.destroy();
        return;
      }
      throw error;
    }
    const parsed = parseReview(body);
    if (!parsed.ok) {
      decisions?.inc({ resource: route.resource, operation: '', result: 'error', code: String(parsed.httpStatus) });
      send(response, parsed.httpStatus, parsed.message);
      return;
    }
    const review = parsed.request;
    const verdict = await judge(route, review);
    const result = verdict.allowed ? 'allowed' : verdict.status.code >= 500 || verdict.status.code === 400 ? 'error' : 'denied';
    decisions?.inc({ resource: route.resource, operation: review.operation, result, code: verdict.allowed ? '200' : String(verdict.status.code) });
    const subject = { resource: route.resource, operation: review.operation, namespace: review.namespace, name: review.name, user: review.userInfo?.username, dryRun: review.dryRun };
    if (verdict.allowed) logger.debug(subject, 'admission allowed');
    else logger.info({ ...subject, code: verdict.status.code, reason: verdict.status.message }, 'admission denied');
    send(response, 200, JSON.stringify(reviewResponse(review.uid, verdict)), 'application/json');
  }

  const server = createServer(serverTlsOptions(options.tls), (request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'webhook request failed');
      send(response, 500, 'the webhook failed to answer');
    });
  });
  // A client that sends slowly or not at all cannot hold a connection: the API server gives up on a
  // webhook after at most 30 s anyway.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('tlsClientError', (error) => logger.debug({ err: error.message }, 'webhook TLS handshake refused'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error.message }, 'webhook server error'));
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : options.port,
    setCertificate: (tls) => server.setSecureContext(serverTlsOptions(tls)),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  };
}
