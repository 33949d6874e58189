/**
 * The operator's HTTPS endpoints for the platform: /healthz (the process works), /readyz (caches are
 * synced), /metrics (Prometheus). TLS under the one policy of every endpoint the operator serves (pki/tls-policy.ts, S2).
 */
import { createServer, type Server } from 'node:https';
import { serverTlsOptions } from '../pki/tls-policy.ts';
import type { Registry } from 'prom-client';

export interface ProbeServerOptions {
  host: string;
  port: number;
  tls: { cert: string; key: string };
  registry?: Registry;
  isAlive: () => boolean;
  isReady: () => boolean;
  /** Serve /metrics on this server (false: probes only). */
  serveMetrics: boolean;
  serveProbes: boolean;
}

export async function startProbeServer(options: ProbeServerOptions): Promise<{ server: Server; port: number }> {
  const server = createServer(serverTlsOptions(options.tls), (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (options.serveProbes && (path === '/healthz' || path === '/livez')) {
      const ok = options.isAlive();
      response.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'unhealthy');
      return;
    }
    if (options.serveProbes && path === '/readyz') {
      const ok = options.isReady();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'caches not synced');
      return;
    }
    if (options.serveMetrics && path === '/metrics' && options.registry) {
      const registry = options.registry;
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500).end(error instanceof Error ? error.message : 'metrics failed'),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : options.port };
}
