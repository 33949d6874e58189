/**
 * The operator's probe endpoints for the kubelet: /healthz (the process works) and /readyz (caches
 * are synced). They tell nothing about tenants, so they need no credentials; /metrics is not here but
 * on its own port behind authentication (metrics-server.ts). TLS under the one policy of every
 * endpoint the operator serves (pki/tls-policy.ts, S2).
 */
import { createServer, type Server } from 'node:https';
import { serverTlsOptions } from '../pki/tls-policy.ts';

export interface ProbeServerOptions {
  host: string;
  port: number;
  tls: { cert: string; key: string };
  isAlive: () => boolean;
  isReady: () => boolean;
}

export async function startProbeServer(options: ProbeServerOptions): Promise<{ server: Server; port: number }> {
  const server = createServer(serverTlsOptions(options.tls), (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') {
      const ok = options.isAlive();
      response.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'unhealthy');
      return;
    }
    if (path === '/readyz') {
      const ok = options.isReady();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'caches not synced');
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  return listen(server, options.host, options.port);
}

/** Listens and returns the port actually bound (0 picks one). */
export async function listen(server: Server, host: string, port: number): Promise<{ server: Server; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}
