import { describe, expect, it } from 'vitest';
import type { GatewayAccessConfig } from '../../gateway/access-config.ts';
import { configRefusesAll } from './termination-facts.ts';

function access(enabled: boolean[], users: number): GatewayAccessConfig {
  return {
    endpoints: enabled.map((e, i) => ({ name: `e${i}`, credentialHash: 'h', repository: `endpoints/e${i}`, enabled: e })),
    humans: { policy: 'two-factor', users: Array.from({ length: users }, (_, i) => ({ name: `u${i}`, email: 'u@example.com', role: 'viewer', passwordHash: 'h' })) },
  } as unknown as GatewayAccessConfig;
}

describe('access is revoked', () => {
  it('only when no endpoint is enabled and no person is let in', () => {
    expect(configRefusesAll(access([false, false], 0))).toBe(true);
    expect(configRefusesAll(access([], 0))).toBe(true);
    expect(configRefusesAll(access([false, true], 0))).toBe(false);
    expect(configRefusesAll(access([false], 1))).toBe(false);
  });
});
