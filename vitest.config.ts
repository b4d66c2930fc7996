import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Each file owns its database and queue prefix, but the machine has two cores:
          // run files one after another so timing-sensitive flows stay predictable.
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
          env: { METADATA_SERVER_DETECTION: 'none' },
        },
      },
    ],
  },
});
