import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeUnlessUnchanged, validateDeferred } from '../../local/synth.ts';

// Apps of one stack, laid out as cdk init does, under the project's root so that they find its aws-cdk-lib.
mkdirSync('node_modules/.cache', { recursive: true });
const root = mkdtempSync(join('node_modules/.cache', 'synth-apps-'));
const validation = process.env.CDK_VALIDATION;

/** An app with one queue whose VisibilityTimeout is `value`; cdk.json makes CloudFormation's rules fail a synth. */
function appWithQueue(name: string, value: unknown): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'node app.mjs', context: { '@aws-cdk/core:validateAgainstDefaultRules': true } }));
  writeFileSync(
    join(dir, 'app.mjs'),
    `import { App, CfnResource, Stack } from 'aws-cdk-lib';\n` +
      `new CfnResource(new Stack(new App(), 'Scratch'), 'Queue', { type: 'AWS::SQS::Queue', properties: { VisibilityTimeout: ${JSON.stringify(value)} } });\n`,
  );
  return dir;
}

beforeAll(() => {
  // The test run turns CDK's validation off for its synths (vitest.config.ts); these are about it.
  delete process.env.CDK_VALIDATION;
});
afterAll(() => {
  process.env.CDK_VALIDATION = validation;
  rmSync(root, { recursive: true, force: true });
});

describe('Function: synthesizeUnlessUnchanged with deferValidation, then validateDeferred', () => {
  it('starts an app CloudFormation would refuse, and then says why cdk synth and a deploy would refuse it', async () => {
    // GIVEN an app whose queue has a VisibilityTimeout CloudFormation refuses
    const dir = appWithQueue('invalid', 'soon');
    // WHEN it is synthesized as msg local does THEN its assembly is there, but the validation finds what cdk synth would
    expect(await synthesizeUnlessUnchanged(dir, join(dir, 'cdk.out'), { resynthesize: false, clearFirst: true, deferValidation: true })).toBe(true);
    expect(existsSync(join(dir, 'cdk.out', 'Scratch.template.json'))).toBe(true);
    expect(await validateDeferred(dir, join(dir, 'cdk.out'))).toMatch(/VisibilityTimeout/);
    // AND it says so again at the next start, and a synth that does not defer fails on it (the check can fail)
    expect(await validateDeferred(dir, join(dir, 'cdk.out'))).toMatch(/VisibilityTimeout/);
    await expect(synthesizeUnlessUnchanged(dir, join(dir, 'other.out'), { resynthesize: true, clearFirst: true })).rejects.toThrow(/VisibilityTimeout/);
  }, 120_000);

  it('passes a valid app once, which then counts as validated', async () => {
    const dir = appWithQueue('valid', 30);
    await synthesizeUnlessUnchanged(dir, join(dir, 'cdk.out'), { resynthesize: false, clearFirst: true, deferValidation: true });
    expect(existsSync(join(dir, 'cdk.out', '.unvalidated'))).toBe(true);
    expect(await validateDeferred(dir, join(dir, 'cdk.out'))).toBeUndefined();
    expect(existsSync(join(dir, 'cdk.out', '.unvalidated'))).toBe(false);
  }, 120_000);
});
