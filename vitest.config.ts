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
    // Consumers under test log and emit metrics as in Lambda; the test output stays readable without them.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
  },
});
