/**
 * Usage metrics per tenant (S10), from the metering runner's latest state of each tenant's open
 * month (the state it last wrote to the ledger; the leader alone meters, so a standby exports none).
 * Base units and Prometheus naming: byte-seconds as a counter (`_total`, never reset: a month's
 * figure is the increase over that month), this month's peaks and endpoint counts as gauges.
 * The ledger, not these series, is what billing imports: scrapes are lossy, the ledger is exact.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { byteSecondsTotal, type MonthState } from './accumulate.ts';

export const USAGE_METRICS = {
  tenantbackup_tenant_storage_byte_seconds_total: { help: 'Storage held by the tenant integrated over time, in byte-seconds, since its usage ledger began', kind: 'counter' },
  tenantbackup_tenant_storage_billed_byte_hours: { help: 'This UTC month so far: the sum over its closed started hours of each hour\'s peak bytes (per started hour billing), in byte-hours', kind: 'gauge' },
  tenantbackup_tenant_storage_peak_bytes: { help: 'Most bytes the tenant held at one time in this UTC month so far', kind: 'gauge' },
  tenantbackup_tenant_endpoints_active: { help: 'Distinct endpoints that existed at any time in this UTC month so far', kind: 'gauge' },
  tenantbackup_tenant_endpoint_units_peak: { help: 'Most endpoints the tenant had at one time in this UTC month so far', kind: 'gauge' },
} as const;

type Name = keyof typeof USAGE_METRICS;

function valueOf(name: Name, s: MonthState): number {
  switch (name) {
    case 'tenantbackup_tenant_storage_byte_seconds_total': return Number(byteSecondsTotal(s));
    case 'tenantbackup_tenant_storage_billed_byte_hours': return Number(s.storageBilledByteHours);
    case 'tenantbackup_tenant_storage_peak_bytes': return Number(s.storagePeakBytes);
    case 'tenantbackup_tenant_endpoints_active': return s.endpointsSeen.length;
    case 'tenantbackup_tenant_endpoint_units_peak': return s.endpointUnitsPeak;
  }
}

/** Registers the usage series; each scrape reads `states` (one open month per metered tenant). */
export function registerUsageMetrics(registry: Registry, states: () => Iterable<MonthState>): void {
  for (const [name, { help, kind }] of Object.entries(USAGE_METRICS) as [Name, (typeof USAGE_METRICS)[Name]][]) {
    const config = { name, help, labelNames: ['tenant'] as const, registers: [registry] };
    const fill = (set: (labels: { tenant: string }, value: number) => void) => {
      for (const s of states()) if (!s.closed) set({ tenant: s.tenant }, valueOf(name, s));
    };
    if (kind === 'counter') {
      new Counter({ ...config, collect() { this.reset(); fill((labels, value) => this.inc(labels, value)); } });
    } else {
      new Gauge({ ...config, collect() { this.reset(); fill((labels, value) => this.set(labels, value)); } });
    }
  }
}
