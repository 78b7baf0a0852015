import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The example app's cloud assembly, synthesized once per test run by test/setup/global.ts. */
export const EXAMPLE_ASSEMBLY = resolve('.local-cloud/test-example-app/cdk.out');

/**
 * `stateDir` holding a copy of the example app's assembly with its source key, so that startLocalCloud and `msg local`
 * find it current and skip the synth: three suites synthesized it six times, 5 s of CPU each. Synthesis itself stays tested
 * by the global setup, the reload suite and the package suite.
 */
export function withExampleAssembly(stateDir: string): string {
  cpSync(EXAMPLE_ASSEMBLY, join(stateDir, 'cdk.out'), { recursive: true });
  return stateDir;
}
