import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Integration suites start real servers and wait on real timeouts, so their time-outs are generous: ceilings against
// hangs on a machine with every core busy, not performance assertions.
// This repository runs the library from its TypeScript source: the example imports it by its package name, and the
// "delivery-policies:source" condition resolves that name to ./lib, ./functions and ./local instead of ./dist. Tests
// resolve with it, and the forks run with it so that the handlers they bundle resolve the same way.
const SOURCE_CONDITION = 'delivery-policies:source';

/**
 * The longest suites start first (measured on the 2-core machine this project is built on, longest first), so that
 * the run does not end waiting on one that started last; most of their time is waiting (on visibility timeouts,
 * backoffs, deadlines, child processes), which the suites that compute fill. Vitest orders files by the last run's
 * durations when it has them and by size when it has not, as in a clean clone, which started the longest late.
 */
const LONGEST_FIRST = ['chaos', 'local-cloud', 'request-response', 'package', 'cli', 'local-reload', 'runtime-faults', 'stack', 'aws-cli', 'client-delivery'];

class LongestFirst extends BaseSequencer {
  public override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((name) => file.moduleId.endsWith(`/${name}.test.ts`));
      return index < 0 ? LONGEST_FIRST.length : index;
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
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: true,
    // A fork runs file after file with the modules it has loaded (aws-cdk-lib, the AWS SDK), instead of a fresh process
    // per file; what a test changes of the process (environment variables, spies) is put back after each test.
    isolate: false,
    unstubEnvs: true,
    restoreMocks: true,
    // One more than the cores: the suites that wait leave room for another. On two cores four forks took 199 s of CPU
    // for what three do in 160 s (each fork loads the CDK and the SDK, and their local clouds contend), and no sooner.
    maxWorkers: Math.min(availableParallelism() + 1, 8),
    sequence: { sequencer: LongestFirst },
    // Consumers under test log and emit metrics as in Lambda; the test output stays readable without them.
    // CDK's built-in CloudFormation validation is off for the forks' synths too (see test/setup/global.ts).
    env: { LOG_LEVEL: 'SILENT', METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1', CDK_VALIDATION: 'false' },
  },
});
