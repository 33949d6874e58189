import { describe, expect, it } from 'vitest';
import type { GatewayReport } from '../../gateway/report-contract.ts';
import { GatewayReports } from './report.ts';

function report(usedBytes: number, requests = 1, generatedAt = '2026-01-01T00:00:00Z'): GatewayReport {
  return {
    version: 1,
    generatedAt,
    gateway: { startedAt: '2026-01-01T00:00:00Z', configDigest: 'd', dataKeyState: 'ready' },
    space: { namespace: 'tenant-acme', name: 'main', uid: 'u', quotaBytes: 100, usedBytes, objects: 0, appendOnly: false, encryptAtRest: false },
    endpoints: [],
    counters: { requests, quotaRefusals: 0, authFailures: 0 },
  } as GatewayReport;
}

describe('the gateway report store', () => {
  it('tells its subscribers which space has news, and only when a report says something new', () => {
    const reports = new GatewayReports();
    const heard: string[] = [];
    const unsubscribe = reports.subscribe((key) => heard.push(key));
    reports.set('tenant-acme/main', report(10));
    // A later report that says the same (only its time and the counters moved) is no news.
    reports.set('tenant-acme/main', report(10, 7, '2026-01-01T00:01:00Z'));
    reports.set('tenant-acme/main', report(20));
    expect(reports.get('tenant-acme/main')?.report.space.usedBytes).toBe(20);
    reports.delete('tenant-acme/main');
    reports.delete('tenant-acme/main');
    expect(heard).toEqual(['tenant-acme/main', 'tenant-acme/main', 'tenant-acme/main']);
    unsubscribe();
    reports.set('tenant-acme/other', report(1));
    expect(heard).toHaveLength(3);
  });
});
