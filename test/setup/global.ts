import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/emulators.ts';
import { synthesizeUnlessUnchanged } from '../../local/synth.ts';
import { EXAMPLE_ASSEMBLY } from '../helpers/example-assembly.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The DynamoDB Local every suite of the run shares (see test/helpers/shared-dynamodb.ts). */
    dynamodbEndpoint: string;
  }
}

/**
 * Before any suite, at once: one DynamoDB Local for the whole run, and the example app's cloud assembly.
 *
 * Each start of DynamoDB Local's JVM costs about 3 s of CPU, and a dozen suites started one each at the same moment on
 * two cores; they now create their tables in this one, under names of their own. The example app is synthesized once
 * (unless its sources are unchanged) for the suites that run it (see withExampleAssembly).
 */
export default async function setUpTheRun(project: TestProject): Promise<() => Promise<void>> {
  // CDK's built-in CloudFormation validation loads a WebAssembly rule engine on every synth, about 1 s of CPU each.
  // Off for this synth and (vitest.config.ts) the forks'; stack.test.ts runs it on the example app, and the package
  // suite on the template's, their findings as errors.
  process.env.CDK_VALIDATION = 'false';
  const [dynamodb, synth] = await Promise.allSettled([
    startDynamoDbLocal(),
    synthesizeUnlessUnchanged(process.cwd(), EXAMPLE_ASSEMBLY, { resynthesize: false, clearFirst: true }),
  ]);
  if (dynamodb.status === 'rejected') throw dynamodb.reason;
  if (synth.status === 'rejected') {
    await dynamodb.value.stop();
    throw synth.reason;
  }
  project.provide('dynamodbEndpoint', dynamodb.value.endpoint);
  return () => dynamodb.value.stop();
}
