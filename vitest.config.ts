import { defineConfig } from 'vitest/config';

// Integration suites start real servers (DynamoDB Local is a JVM), so they get generous hook time-outs;
// these are ceilings against hangs, not performance assertions.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
