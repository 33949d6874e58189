import { describe, expect, it } from 'vitest';
import { parseUsage, usageText } from './usage-text.ts';

describe('usage text', () => {
  it('shows the space against its quota, the key state and each endpoint', () => {
    const text = usageText(parseUsage({
      space: { namespace: 'tenant-acme', name: 'vault', quotaBytes: 10 * 1024 ** 3, usedBytes: 1536 * 1024 ** 2, availableBytes: 10 * 1024 ** 3 - 1536 * 1024 ** 2, objects: 42 },
      dataKeyState: 'sealed',
      endpoints: [
        { name: 'laptop-01', enabled: true, initialized: true, bytesStored: 1536 * 1024 ** 2, objects: 40, snapshots: 3, lastBackupAt: '2026-12-01T10:00:00.000Z' },
        { name: 'nas', enabled: false, initialized: false, bytesStored: 0, objects: 0, snapshots: 0, lastBackupAt: null },
      ],
    }));
    expect(text).toBe([
      'Space tenant-acme/vault',
      '  used       1.5Gi of 10.0Gi (15.0%), 8.5Gi free',
      '  objects    42',
      '  data key   sealed: run tenant-backup unseal',
      '',
      'ENDPOINT        STORED  OBJECTS  SNAPSHOTS  LAST BACKUP',
      'laptop-01       1.5Gi   40       3          2026-12-01T10:00:00.000Z',
      'nas (disabled)  0B      0        0          not initialised',
    ].join('\n'));
  });

  it('refuses an answer of another shape', () => {
    expect(() => parseUsage({ error: 'x' })).toThrow('not in the expected shape');
  });
});
