/**
 * Prometheus metrics of the gateway on a private registry (never prom-client's global one, so that
 * several gateways in one process — tests — do not share figures). Counters are incremented as
 * things happen; the gauges are set from a fresh GatewayReport just before each scrape, so metrics
 * and `/v1/report` always agree.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayReport } from './report-contract.ts';

const PREFIX = 'tenant_backup_gateway_';

/** Low-cardinality names of what a request was for (never a path, which would carry object ids). */
export type RouteLabel =
  | 'repository'
  | 'config'
  | 'object'
  | 'list'
  | 'human'
  | 'enrol'
  | 'peer'
  | 'report'
  | 'metrics'
  | 'probe'
  | 'unknown';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'code'>;
  readonly #quotaRefusals: Counter<'endpoint'>;
  readonly #volumeFull: Counter<'endpoint'>;
  readonly #authFailures: Counter<'realm'>;
  readonly #configReloads: Counter<'result'>;
  readonly #uploadedBytes: Counter<'endpoint' | 'type'>;
  readonly #quotaBytes: Gauge;
  readonly #usedBytes: Gauge;
  readonly #spaceObjects: Gauge;
  readonly #storedBytes: Gauge<'endpoint' | 'type'>;
  readonly #storedObjects: Gauge<'endpoint' | 'type'>;
  readonly #kindBytes: Gauge<'endpoint' | 'kind'>;
  readonly #kindObjects: Gauge<'endpoint' | 'kind'>;
  readonly #lastBackup: Gauge<'endpoint'>;
  readonly #snapshots: Gauge<'endpoint'>;
  readonly #endpointEnabled: Gauge<'endpoint'>;
  readonly #dataKeyReady: Gauge;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.#requests = new Counter({ name: `${PREFIX}requests_total`, help: 'HTTP requests served, by route kind, method and status code', labelNames: ['route', 'method', 'code'], registers });
    this.#quotaRefusals = new Counter({ name: `${PREFIX}quota_refusals_total`, help: 'Uploads refused with 507 because the space quota would be exceeded', labelNames: ['endpoint'], registers });
    this.#volumeFull = new Counter({ name: `${PREFIX}volume_full_refusals_total`, help: 'Uploads refused with 507 because the space volume was full (ENOSPC/EDQUOT) although the quota left room', labelNames: ['endpoint'], registers });
    this.#authFailures = new Counter({ name: `${PREFIX}auth_failures_total`, help: 'Refused authentications, by realm (endpoint, human, report)', labelNames: ['realm'], registers });
    this.#configReloads = new Counter({ name: `${PREFIX}config_reloads_total`, help: 'Configuration reloads, by result (applied, rejected)', labelNames: ['result'], registers });
    this.#uploadedBytes = new Counter({ name: `${PREFIX}uploaded_bytes_total`, help: 'Plaintext bytes stored by uploads since start', labelNames: ['endpoint', 'type'], registers });
    this.#quotaBytes = new Gauge({ name: `${PREFIX}space_quota_bytes`, help: 'Quota of the space (plaintext bytes)', registers });
    this.#usedBytes = new Gauge({ name: `${PREFIX}space_used_bytes`, help: 'Bytes stored in the space (plaintext, all repositories)', registers });
    this.#spaceObjects = new Gauge({ name: `${PREFIX}space_objects`, help: 'Objects stored in the space', registers });
    this.#storedBytes = new Gauge({ name: `${PREFIX}stored_bytes`, help: 'Bytes stored per endpoint and restic file type', labelNames: ['endpoint', 'type'], registers });
    this.#storedObjects = new Gauge({ name: `${PREFIX}stored_objects`, help: 'Objects stored per endpoint and restic file type', labelNames: ['endpoint', 'type'], registers });
    this.#kindBytes = new Gauge({ name: `${PREFIX}stored_kind_bytes`, help: 'Bytes stored per endpoint by kind (full, incremental, metadata)', labelNames: ['endpoint', 'kind'], registers });
    this.#kindObjects = new Gauge({ name: `${PREFIX}stored_kind_objects`, help: 'Objects stored per endpoint by kind (full, incremental, metadata)', labelNames: ['endpoint', 'kind'], registers });
    this.#lastBackup = new Gauge({ name: `${PREFIX}last_backup_timestamp_seconds`, help: 'When the newest snapshot of the endpoint was stored (end of its last successful backup)', labelNames: ['endpoint'], registers });
    this.#snapshots = new Gauge({ name: `${PREFIX}snapshots`, help: 'Snapshot objects per endpoint', labelNames: ['endpoint'], registers });
    this.#endpointEnabled = new Gauge({ name: `${PREFIX}endpoint_enabled`, help: '1 when the endpoint may access its repository', labelNames: ['endpoint'], registers });
    this.#dataKeyReady = new Gauge({ name: `${PREFIX}data_key_ready`, help: '1 when the data key is available and data is served; 0 when sealed or the key is missing', registers });
  }

  countRequest(route: RouteLabel, method: string, code: number): void {
    this.#requests.inc({ route, method, code: String(code) });
  }

  countQuotaRefusal(endpoint: string): void {
    this.#quotaRefusals.inc({ endpoint });
  }

  countVolumeFull(endpoint: string): void {
    this.#volumeFull.inc({ endpoint });
  }

  countAuthFailure(realm: 'endpoint' | 'human' | 'report' | 'peer'): void {
    this.#authFailures.inc({ realm });
  }

  countConfigReload(result: 'applied' | 'rejected'): void {
    this.#configReloads.inc({ result });
  }

  countUpload(endpoint: string, type: string, bytes: number): void {
    this.#uploadedBytes.inc({ endpoint, type }, bytes);
  }

  /** Sets every gauge from the report; endpoints no longer configured disappear. */
  update(report: GatewayReport): void {
    this.#quotaBytes.set(report.space.quotaBytes);
    this.#usedBytes.set(report.space.usedBytes);
    this.#spaceObjects.set(report.space.objects);
    this.#dataKeyReady.set(report.gateway.dataKeyState === 'ready' ? 1 : 0);
    for (const gauge of [this.#storedBytes, this.#storedObjects, this.#kindBytes, this.#kindObjects, this.#lastBackup, this.#snapshots, this.#endpointEnabled]) gauge.reset();
    for (const endpoint of report.endpoints) {
      for (const [type, tally] of Object.entries(endpoint.byType)) {
        this.#storedBytes.set({ endpoint: endpoint.name, type }, tally.bytes);
        this.#storedObjects.set({ endpoint: endpoint.name, type }, tally.objects);
      }
      for (const [kind, tally] of Object.entries(endpoint.byKind)) {
        this.#kindBytes.set({ endpoint: endpoint.name, kind }, tally.bytes);
        this.#kindObjects.set({ endpoint: endpoint.name, kind }, tally.objects);
      }
      if (endpoint.lastBackupAt !== null) this.#lastBackup.set({ endpoint: endpoint.name }, Date.parse(endpoint.lastBackupAt) / 1000);
      this.#snapshots.set({ endpoint: endpoint.name }, endpoint.snapshots);
      this.#endpointEnabled.set({ endpoint: endpoint.name }, endpoint.enabled ? 1 : 0);
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
