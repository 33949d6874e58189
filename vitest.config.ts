import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          environment: 'node',
          // Shared 2-core machines are noisy: a limit is a guard against hangs, not a speed goal.
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          // One control plane is shared by the suite; files run one at a time so that tests which
          // restart the API server or kill operators do not disturb each other.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'kind',
          include: ['test/kind/**/*.test.ts'],
          environment: 'node',
          // A kind cluster built offline by hack/kind, the operator installed by our chart (see test/kind).
          globalSetup: ['test/kind/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
