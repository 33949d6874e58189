import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnrolmentLedger } from './enrolment-ledger.ts';

const seal = (wrappedCredential: string) => ({ kdf: { name: 'scrypt' as const, cost: 1024, blockSize: 8, parallelization: 1, salt: 'c2FsdHNhbHRzYWx0c2FsdA==' }, wrappedCredential });
let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the enrolment ledger', () => {
  it('lets a code be claimed once, also by a second process on the same volume and after a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'enrolments-'));
    const where = join(dir, '.tenant-backup', 'enrolments');
    expect(await new EnrolmentLedger(where).claim('laptop', seal('v1.a.b'))).toBe(true);
    expect(await new EnrolmentLedger(where).claim('laptop', seal('v1.a.b'))).toBe(false);
    // A new code of the same endpoint is a new claim.
    expect(await new EnrolmentLedger(where).claim('laptop', seal('v1.c.d'))).toBe(true);
    const markers = await readdir(where);
    expect(markers).toHaveLength(2);
    expect(await readFile(join(where, markers[0] ?? ''), 'utf8')).not.toContain('v1.');
  });

  it('gives one of many concurrent claims of one code the win', async () => {
    dir = await mkdtemp(join(tmpdir(), 'enrolments-'));
    const replicas = Array.from({ length: 8 }, () => new EnrolmentLedger(join(dir ?? '', 'enrolments')));
    const results = await Promise.all(replicas.map((ledger) => ledger.claim('laptop', seal('v1.x.y'))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
