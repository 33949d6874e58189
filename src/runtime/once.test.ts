import { describe, expect, it } from 'vitest';
import { loadOnce } from './once.ts';

describe('loadOnce', () => {
  it('loads once for concurrent and later callers', async () => {
    let loads = 0;
    const get = loadOnce(async () => ++loads);
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    expect(await get()).toBe(1);
    expect(loads).toBe(1);
  });

  it('forgets a failed load, so the next call tries again', async () => {
    let loads = 0;
    const get = loadOnce(async () => {
      loads += 1;
      if (loads === 1) throw new Error('API server unavailable');
      return 'ca';
    });
    await expect(get()).rejects.toThrow('API server unavailable');
    expect(await get()).toBe('ca');
    expect(await get()).toBe('ca');
    expect(loads).toBe(2);
  });
});
