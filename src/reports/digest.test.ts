import { describe, expect, it } from 'vitest';
import type { BackupSpace, Endpoint, Tenant } from '../api/types.ts';
import type { EndpointReport, GatewayReport } from '../gateway/report-contract.ts';
import { computeDigest } from './digest.ts';
import { periodContaining } from './period.ts';
import { escapeHtml, renderReport } from './render.ts';

const tally = (bytes: number) => ({ objects: 1, bytes });
const tenant = { metadata: { name: 'acme' }, spec: { displayName: 'Acme <S.p.A.>', quotas: { storage: '10Gi' } } } as unknown as Tenant;
const space = { metadata: { name: 'vault', namespace: 'tenant-acme' }, spec: { size: '4Gi' }, status: { usedBytes: 10 } } as unknown as BackupSpace;
const endpoint = (name: string, status: Endpoint['status'], hostname?: string) =>
  ({ metadata: { name, namespace: 'tenant-acme' }, spec: { spaceRef: { name: 'vault' }, kind: 'Server', hostname, selection: { include: ['/'] } }, status }) as unknown as Endpoint;
const endpointReport = (name: string, snapshots: number, full: number, incremental: number, metadata: number, quotaRefusals = 0): EndpointReport => ({
  name, repository: name, enabled: true, initialized: true, bytesStored: full + incremental + metadata, objects: 3,
  byType: {} as EndpointReport['byType'], byKind: { full: tally(full), incremental: tally(incremental), metadata: tally(metadata) },
  snapshots, lastBackupAt: snapshots ? '2026-12-03T10:00:00Z' : null, quotaRefusals, agent: 'restic/0.16.4',
});
const gatewayReport = (endpoints: EndpointReport[], counters = { requests: 9, quotaRefusals: 2, authFailures: 3 }) =>
  ({ space: { quotaBytes: 4 * 2 ** 30, usedBytes: 2 ** 30 }, endpoints, counters }) as unknown as GatewayReport;

const overdueCondition = [{ type: 'BackupOverdue', status: 'True', reason: 'BackupOverdue', message: '', lastTransitionTime: '2026-12-03T00:00:00Z' }];
const period = periodContaining('Daily', Date.parse('2026-12-03T12:00:00Z'));
const endpoints = [
  endpoint('server', { lastBackupTime: '2026-12-03T10:00:00Z', agentVersion: 'restic/0.16.4', agentOutdated: false }, 'srv<1>'),
  endpoint('laptop', { conditions: overdueCondition, agentVersion: 'restic/0.9.0', agentOutdated: true } as Endpoint['status']),
];

describe('report digest', () => {
  it('counts everything stored so far on the first report, and flags overdue devices and outdated agents', () => {
    const digest = computeDigest({
      tenant, spaces: [space], endpoints, period, now: new Date('2026-12-04T00:05:00Z'),
      gatewayReports: new Map([['vault', gatewayReport([endpointReport('server', 2, 1000, 200, 50, 1), endpointReport('laptop', 0, 0, 0, 0)])]]),
    });
    expect(digest.period).toEqual({ kind: 'Daily', id: '2026-12-03', start: '2026-12-03T00:00:00.000Z', end: '2026-12-04T00:00:00.000Z' });
    expect(digest.endpoints.map((e) => e.name)).toEqual(['laptop', 'server']);
    expect(digest.endpoints[1]).toMatchObject({ snapshotsAdded: 2, snapshotsTotal: 2, bytesAdded: { full: 1000, incremental: 200, metadata: 50 }, quotaRefusals: 1, lastBackup: '2026-12-03T10:00:00Z', unmeasured: false });
    expect(digest.endpoints[0]).toMatchObject({ overdue: true, agentOutdated: true, snapshotsAdded: 0 });
    expect(digest.overdue).toEqual(['laptop']);
    expect(digest.outdatedAgents).toEqual(['laptop']);
    expect(digest.spaces).toEqual([{ name: 'vault', usedBytes: 2 ** 30, quotaBytes: 4 * 2 ** 30, quotaRefusals: 2, authFailures: 3 }]);
    expect(digest.storage).toEqual({ usedBytes: 2 ** 30, quotaBytes: 10 * 2 ** 30 });
  });

  it('counts what was added since the previous report, and a reset counter as it stands', () => {
    const first = computeDigest({ tenant, spaces: [space], endpoints, period, now: new Date(), gatewayReports: new Map([['vault', gatewayReport([endpointReport('server', 2, 1000, 200, 50, 5)])]]) });
    const second = computeDigest({
      tenant, spaces: [space], endpoints, period, now: new Date(), previous: first.baseline,
      gatewayReports: new Map([['vault', gatewayReport([endpointReport('server', 5, 1000, 700, 80, 1)], { requests: 1, quotaRefusals: 4, authFailures: 1 })]]),
    });
    expect(second.endpoints.find((e) => e.name === 'server')).toMatchObject({ snapshotsAdded: 3, snapshotsTotal: 5, bytesAdded: { full: 0, incremental: 500, metadata: 30 }, quotaRefusals: 1 });
    expect(second.spaces[0]).toMatchObject({ quotaRefusals: 2, authFailures: 1 });
  });

  it('says when the gateway figures are missing, and keeps the last known totals for the next report', () => {
    const first = computeDigest({ tenant, spaces: [space], endpoints, period, now: new Date(), gatewayReports: new Map([['vault', gatewayReport([endpointReport('server', 2, 1000, 0, 50)])]]) });
    const blind = computeDigest({ tenant, spaces: [space], endpoints, period, now: new Date(), previous: first.baseline, gatewayReports: new Map() });
    expect(blind.endpoints.find((e) => e.name === 'server')).toMatchObject({ unmeasured: true, snapshotsAdded: 0 });
    expect(blind.baseline.endpoints['server']).toEqual(first.baseline.endpoints['server']);
    expect(blind.spaces[0]).toMatchObject({ usedBytes: 10, quotaBytes: 4 * 2 ** 30 });
  });
});

describe('report rendering', () => {
  const digest = computeDigest({
    tenant, spaces: [space], endpoints, period, now: new Date('2026-12-04T00:05:00Z'),
    gatewayReports: new Map([['vault', gatewayReport([endpointReport('server', 2, 3 * 1024 * 1024, 2048, 512, 1)])]]),
  });

  it('writes Italian plain text with the figures', () => {
    const { subject, text } = renderReport(digest, 'it');
    expect(subject).toBe('Report backup Acme <S.p.A.> — 2026-12-03');
    expect(text).toContain('dal 2026-12-03 al 2026-12-03 (UTC)');
    expect(text).toContain('- server (srv<1>) — spazio vault');
    expect(text).toContain('Ultimo backup: 2026-12-03 10:00:00 UTC');
    expect(text).toContain('Snapshot: 2 nel periodo (2 in totale)');
    expect(text).toContain('Dati aggiunti nel periodo: completi 3.0Mi, incrementali 2.0Ki, metadati 512B');
    expect(text).toContain('Scritture rifiutate per quota esaurita (507): 1');
    expect(text).toContain('- laptop — spazio vault — IN RITARDO');
    expect(text).toContain('Client: restic/0.9.0 (non aggiornato)');
    expect(text).toContain('Spazio utilizzato: 1.0Gi usato / 10.0Gi quota (10%)');
  });

  it('writes English HTML with every cluster value escaped', () => {
    const { subject, html } = renderReport(digest, 'en');
    expect(subject).toBe('Backup report Acme <S.p.A.> — 2026-12-03');
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<h1>Backup report Acme &lt;S.p.A.&gt; — 2026-12-03</h1>');
    expect(html).toContain('server (srv&lt;1&gt;)');
    expect(html).not.toContain('<S.p.A.>');
    expect(html).not.toContain('srv<1>');
    expect(html).toContain('Devices with no backup within their expected interval</h2>\n<ul><li>laptop</li></ul>');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
