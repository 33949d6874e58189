import { describe, expect, it } from 'vitest';
import type { BackupSpace, Endpoint } from '../api/types.ts';
import { goneSample, tenantSample } from './sample.ts';

const space = (name: string, usedBytes?: number) => ({ metadata: { name, namespace: 'tenant-acme' }, spec: {}, ...(usedBytes === undefined ? {} : { status: { usedBytes } }) }) as unknown as BackupSpace;
const endpoint = (name: string) => ({ metadata: { name, namespace: 'tenant-acme' }, spec: { spaceRef: { name: 'a' } } }) as unknown as Endpoint;

describe('tenantSample', () => {
  it('sums the spaces\' reported bytes and names every endpoint, at whole seconds', () => {
    // 5 GiB + 1 byte + a space not reported yet (0).
    const sample = tenantSample(1_764_541_800_999, [space('a', 5 * 2 ** 30), space('b', 1), space('c')], [endpoint('laptop'), endpoint('server')]);
    expect(sample).toEqual({ atS: 1_764_541_800, storageBytes: 5_368_709_121n, endpoints: ['laptop', 'server'] });
  });

  it('gives a gone tenant nothing', () => {
    expect(goneSample(2_000)).toEqual({ atS: 2, storageBytes: 0n, endpoints: [] });
  });
});
