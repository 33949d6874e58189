/**
 * The operator's /metrics, on its own HTTPS port and only for callers the cluster lets read it: a
 * bearer token the API server vouches for (TokenReview) and RBAC's yes to `get` on the non-resource
 * URL /metrics (SubjectAccessReview), as controller-runtime's secure metrics serving does. The
 * metrics name tenants, spaces and their usage: they are not for anyone who reaches the port.
 * 401 without a valid token, 403 without the permission, 503 when the API server cannot be asked.
 */
import { createServer, type Server } from 'node:https';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { serverTlsOptions } from '../pki/tls-policy.ts';
import { checkRequest, type RequestAuthenticator } from './kube/request-auth.ts';
import { listen } from './probe-server.ts';

export const METRICS_PATH = '/metrics';

export interface MetricsServerOptions {
  host: string;
  port: number;
  tls: { cert: string; key: string };
  registry: Registry;
  auth: RequestAuthenticator;
  logger: Logger;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<{ server: Server; port: number }> {
  const { registry, auth, logger } = options;
  const server = createServer(serverTlsOptions(options.tls), (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' }).end('method not allowed');
      return;
    }
    void (async () => {
      const verdict = await checkRequest(auth, request.headers.authorization, { verb: 'get', path: METRICS_PATH });
      if (!verdict.ok) {
        if (verdict.status === 503) logger.warn({ reason: verdict.message }, 'metrics request not checked');
        response.writeHead(verdict.status, { 'content-type': 'text/plain', ...(verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(verdict.message);
        return;
      }
      const text = await registry.metrics();
      response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text);
    })().catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'metrics request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return listen(server, options.host, options.port);
}
