import { defineConfig } from 'vitest/config';

// Integration suites start real servers (DynamoDB Local is a JVM), so they get generous hook time-outs;
// these are ceilings against hangs, not performance assertions.
// This repository runs the library from its TypeScript source: the example imports it by its package name, and the
// "delivery-policies:source" condition resolves that name to ./lib, ./functions and ./local instead of ./dist. Tests
// resolve with it, and the forks run with it so that the handlers they bundle resolve the same way.
const SOURCE_CONDITION = 'delivery-policies:source';

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION] } },
  test: {
    execArgv: [`--conditions=${SOURCE_CONDITION}`],
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/example-assembly.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // Consumers under test log and emit metrics as in Lambda; the test output stays readable without them.
    env: { LOG_LEVEL: 'SILENT', METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
  },
});
