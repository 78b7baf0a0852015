import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Integration suites start real servers (DynamoDB Local is a JVM), so they get generous hook time-outs;
// these are ceilings against hangs, not performance assertions.
// This repository runs the library from its TypeScript source: the example imports it by its package name, and the
// "delivery-policies:source" condition resolves that name to ./lib, ./functions and ./local instead of ./dist. Tests
// resolve with it, and the forks run with it so that the handlers they bundle resolve the same way.
const SOURCE_CONDITION = 'delivery-policies:source';

/**
 * Suites that mostly wait (on visibility timeouts, backoffs, deadlines) start first, so that their waits overlap the
 * suites that compute. Vitest orders files by the last run's durations when it has them and by size when it has not,
 * as in a clean clone, which started the longest of them, the short chaos run, last.
 */
const WAITING_SUITES = ['chaos', 'local-cloud', 'request-response', 'runtime-faults'];

class WaitingSuitesFirst extends BaseSequencer {
  public override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = WAITING_SUITES.findIndex((name) => file.moduleId.endsWith(`/${name}.test.ts`));
      return index < 0 ? WAITING_SUITES.length : index;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

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
    // Twice the cores: the suites that wait leave them idle for the others. At most 8, each with its own emulators.
    maxWorkers: Math.min(availableParallelism() * 2, 8),
    sequence: { sequencer: WaitingSuitesFirst },
    // Consumers under test log and emit metrics as in Lambda; the test output stays readable without them.
    // CDK's built-in CloudFormation validation is off for the forks' synths too (see test/setup/example-assembly.ts).
    env: { LOG_LEVEL: 'SILENT', METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1', CDK_VALIDATION: 'false' },
  },
});
