import { synthesizeUnlessUnchanged } from '../../local/synth.ts';
import { EXAMPLE_ASSEMBLY } from '../helpers/example-assembly.ts';

/** Synthesizes the example app for the suites that run it (see withExampleAssembly), unless its sources are unchanged. */
export default async function synthesizeExampleApp(): Promise<void> {
  await synthesizeUnlessUnchanged(process.cwd(), EXAMPLE_ASSEMBLY, { resynthesize: false, clearFirst: true });
}
