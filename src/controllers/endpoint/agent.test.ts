import { describe, expect, it } from 'vitest';
import { isOutdatedAgent, MINIMUM_AGENT } from './agent.ts';

describe('backup client versions', () => {
  it('flags clients older than the minimum, compares numerically, and leaves unknown clients alone', () => {
    expect(isOutdatedAgent('restic/0.13.1', MINIMUM_AGENT)).toBe(true);
    expect(isOutdatedAgent('restic/0.14.0 (linux/amd64)', MINIMUM_AGENT)).toBe(false);
    expect(isOutdatedAgent('restic/0.9.6', 'restic/0.10.0')).toBe(true);
    expect(isOutdatedAgent('restic/0.16.4', MINIMUM_AGENT)).toBe(false);
    expect(isOutdatedAgent('rustic/0.1.0', MINIMUM_AGENT)).toBeUndefined();
    expect(isOutdatedAgent('Go-http-client/1.1', MINIMUM_AGENT)).toBeUndefined();
    expect(isOutdatedAgent('curl', MINIMUM_AGENT)).toBeUndefined();
  });
});
