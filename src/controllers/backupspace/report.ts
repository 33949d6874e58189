/**
 * What the gateways report (usage, last backups, agents, sealed state), fetched by the operator from
 * each space's gateway over TLS with the space's report token (report-poller.ts, off the reconcile
 * path), and kept in memory for the space and endpoint controllers to surface in status. It is a
 * cache of what the gateways say, rebuilt by the next poll after a restart: nothing the operator
 * must remember.
 */
import { request } from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import type { GatewayReport } from '../../gateway/report-contract.ts';
import { GATEWAY_PORT, gatewayServiceHost } from '../labels.ts';

export interface StoredReport {
  report: GatewayReport;
  fetchedAt: number;
}

export type ReportListener = (spaceKey: string) => void;

/** When the report was made and the request counters (which count the poll itself) are no news. */
function sameFacts(a: GatewayReport, b: GatewayReport): boolean {
  const facts = ({ generatedAt: _at, counters: _counters, ...rest }: GatewayReport) => rest;
  return isDeepStrictEqual(facts(a), facts(b));
}

/**
 * The gateways' last reports, by space key. The poller writes them; controllers read them and
 * subscribe to hear which space has news (a report that says something new, or none any more).
 */
export class GatewayReports {
  private readonly reports = new Map<string, StoredReport>();
  private readonly listeners = new Set<ReportListener>();

  get(spaceKey: string): StoredReport | undefined {
    return this.reports.get(spaceKey);
  }

  /** Stores the report; subscribers hear of it when it says something the last one did not. */
  set(spaceKey: string, report: GatewayReport, now = Date.now()): void {
    const previous = this.reports.get(spaceKey);
    this.reports.set(spaceKey, { report, fetchedAt: now });
    if (!previous || !sameFacts(previous.report, report)) this.notify(spaceKey);
  }

  delete(spaceKey: string): void {
    if (this.reports.delete(spaceKey)) this.notify(spaceKey);
  }

  /** Calls `listener` with the space's key whenever its report changes; returns the unsubscribe. */
  subscribe(listener: ReportListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(spaceKey: string): void {
    for (const listener of this.listeners) listener(spaceKey);
  }
}

/**
 * Where the operator reaches a gateway: its Service's cluster DNS name, or an override
 * (`--gateway-address namespace/space=host:port`) when the operator runs outside the cluster.
 */
export function gatewayAddress(namespace: string, space: string, overrides: ReadonlyMap<string, string>): { host: string; port: number; servername: string } {
  const servername = gatewayServiceHost(namespace, space);
  const override = overrides.get(`${namespace}/${space}`);
  if (!override) return { host: servername, port: GATEWAY_PORT, servername };
  const colon = override.lastIndexOf(':');
  return { host: override.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(override.slice(colon + 1)), servername };
}

export function parseAddressOverrides(values: readonly string[]): Map<string, string> {
  const overrides = new Map<string, string>();
  for (const value of values) {
    const match = /^([a-z0-9-]+\/[a-z0-9.-]+)=(.+:\d+)$/.exec(value);
    if (!match?.[1] || !match[2]) throw new Error(`--gateway-address must look like namespace/space=host:port, not '${value}'`);
    overrides.set(match[1], match[2]);
  }
  return overrides;
}

/** GET /v1/report, verifying the gateway's certificate against the operator's CA and its Service name. */
export function fetchReport(address: { host: string; port: number; servername: string }, token: string, caPem: string, timeoutMs = 5000): Promise<GatewayReport> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: address.host,
      port: address.port,
      servername: address.servername,
      path: '/v1/report',
      method: 'GET',
      ca: caPem,
      minVersion: 'TLSv1.2',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      timeout: timeoutMs,
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) {
          reject(new Error(`gateway report: HTTP ${response.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as GatewayReport);
        } catch {
          reject(new Error('gateway report: not JSON'));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`gateway report: no answer in ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Bytes as people read them in `kubectl get` (binary units). */
export function humanBytes(bytes: number): string {
  const units = ['B', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${units[unit]}`;
}
