import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { advance, openMonth } from './accumulate.ts';
import { registerUsageMetrics } from './metrics.ts';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('usage metrics', () => {
  it('export each tenant\'s figures in base units, the byte-seconds as a _total counter', async () => {
    let s = openMonth('acme', at('2026-11-30T22:30:00Z'));
    s = advance(s, { atS: at('2026-11-30T22:30:00Z'), storageBytes: 1000n, endpoints: ['a', 'b'] }).states.at(-1) ?? s;
    s = advance(s, { atS: at('2026-11-30T23:10:00Z'), storageBytes: 4000n, endpoints: ['b'] }).states.at(-1) ?? s;
    const registry = new Registry();
    registerUsageMetrics(registry, () => [s]);
    const text = await registry.metrics();
    // 1000 B × 2400 s (22:30–23:10), of which hour 22 (1800 s) is closed and billed at its 1000 B peak.
    expect(text).toContain('# TYPE tenantbackup_tenant_storage_byte_seconds_total counter');
    expect(text).toContain('tenantbackup_tenant_storage_byte_seconds_total{tenant="acme"} 2400000');
    expect(text).toContain('tenantbackup_tenant_storage_billed_byte_hours{tenant="acme"} 1000');
    expect(text).toContain('tenantbackup_tenant_storage_peak_bytes{tenant="acme"} 4000');
    expect(text).toContain('tenantbackup_tenant_endpoints_active{tenant="acme"} 2');
    expect(text).toContain('tenantbackup_tenant_endpoint_units_peak{tenant="acme"} 2');
  });
});
