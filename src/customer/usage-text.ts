/** What `tenant-backup usage` prints: the gateway's GET /v1/usage answer, as a person reads it. */
import { humanBytes } from '../controllers/backupspace/report.ts';

export interface UsageAnswer {
  space: { namespace: string; name: string; quotaBytes: number; usedBytes: number; availableBytes: number; objects: number };
  dataKeyState: string;
  endpoints: { name: string; enabled: boolean; initialized: boolean; bytesStored: number; objects: number; snapshots: number; lastBackupAt: string | null }[];
}

function isUsageAnswer(value: unknown): value is UsageAnswer {
  const v = value as Partial<UsageAnswer> | null;
  return typeof v === 'object' && v !== null && typeof v.space?.quotaBytes === 'number' && typeof v.space.usedBytes === 'number' && Array.isArray(v.endpoints);
}

export function parseUsage(value: unknown): UsageAnswer {
  if (!isUsageAnswer(value)) throw new Error('the gateway\'s usage answer is not in the expected shape (GET /v1/usage); is the CLI older than the gateway?');
  return value;
}

const KEY_STATE: Record<string, string> = {
  ready: 'unsealed (serving)',
  sealed: 'sealed: run tenant-backup unseal',
  'key-missing': 'key missing (ask your provider)',
  'key-mismatch': 'key mismatch (ask your provider)',
};

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

export function usageText(usage: UsageAnswer): string {
  const { space } = usage;
  const percent = space.quotaBytes > 0 ? ` (${((space.usedBytes / space.quotaBytes) * 100).toFixed(1)}%)` : '';
  const lines = [
    `Space ${space.namespace}/${space.name}`,
    `  used       ${humanBytes(space.usedBytes)} of ${humanBytes(space.quotaBytes)}${percent}, ${humanBytes(space.availableBytes)} free`,
    `  objects    ${space.objects}`,
    `  data key   ${KEY_STATE[usage.dataKeyState] ?? usage.dataKeyState}`,
    '',
  ];
  if (usage.endpoints.length === 0) return [...lines, 'No endpoints.'].join('\n');
  const rows = [['ENDPOINT', 'STORED', 'OBJECTS', 'SNAPSHOTS', 'LAST BACKUP'], ...usage.endpoints.map((e) => [
    e.enabled ? e.name : `${e.name} (disabled)`,
    humanBytes(e.bytesStored),
    String(e.objects),
    String(e.snapshots),
    e.lastBackupAt ?? (e.initialized ? 'never' : 'not initialised'),
  ])];
  return [...lines, ...table(rows)].join('\n');
}
