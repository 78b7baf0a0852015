import { synthesizeUnlessUnchanged } from '../../local/synth.ts';
import { EXAMPLE_ASSEMBLY } from '../helpers/example-assembly.ts';

/** Synthesizes the example app for the suites that run it (see withExampleAssembly), unless its sources are unchanged. */
export default async function synthesizeExampleApp(): Promise<void> {
  // CDK's built-in CloudFormation validation loads a WebAssembly rule engine on every synth, about 1 s of CPU each.
  // Off for this synth and (vitest.config.ts) the forks'; stack.test.ts runs it on the example app, and the package
  // suite on the template's, their findings as errors.
  process.env.CDK_VALIDATION = 'false';
  await synthesizeUnlessUnchanged(process.cwd(), EXAMPLE_ASSEMBLY, { resynthesize: false, clearFirst: true });
}
