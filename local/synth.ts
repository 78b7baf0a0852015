import { exec } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { LOCAL_REGION } from './emulators.ts';
import { sourceKey } from './sources.ts';

const run = promisify(exec);

export interface SynthesisOptions {
  /** Synthesize even when the sources are unchanged. */
  readonly resynthesize: boolean;
  /**
   * Empty `outDir` first: `cdk synth` leaves the assets of earlier syntheses behind, so an assembly kept across
   * starts would only grow. Not while functions run from it, as during a reload.
   */
  readonly clearFirst: boolean;
  /**
   * Leave CDK's own CloudFormation validation to validateDeferred, after the local cloud is up: 2.4–2.6 s of a first
   * start's synth here, for findings that concern CloudFormation, not the local cloud. @default false
   */
  readonly deferValidation?: boolean;
}

/** Beside an assembly synthesized without CDK's CloudFormation validation, until validateDeferred has passed it. */
const UNVALIDATED_MARKER = '.unvalidated';

/**
 * Synthesizes the app in `appDir` into `outDir` unless the assembly there is from the same sources (their key is
 * written beside it); answers whether it synthesized.
 */
export async function synthesizeUnlessUnchanged(appDir: string, outDir: string, options: SynthesisOptions): Promise<boolean> {
  const keyFile = join(outDir, '.source-key');
  const key = sourceKey(appDir);
  if (!options.resynthesize && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) return false;
  if (options.clearFirst) rmSync(outDir, { recursive: true, force: true });
  const deferred = options.deferValidation === true;
  await synthesize(appDir, outDir, { validate: !deferred, bundle: true });
  if (deferred) writeFileSync(join(outDir, UNVALIDATED_MARKER), key);
  else rmSync(join(outDir, UNVALIDATED_MARKER), { force: true });
  writeFileSync(keyFile, key);
  return true;
}

/**
 * Runs CDK's CloudFormation validation on an app whose assembly in `outDir` was synthesized without it
 * (deferValidation), as `cdk synth` would: its findings, which would fail `cdk synth` and a deploy, or none. Once it
 * passes, the assembly counts as validated. Bundling is skipped: the rules read the templates only.
 */
export async function validateDeferred(appDir: string, outDir: string): Promise<string | undefined> {
  const marker = join(outDir, UNVALIDATED_MARKER);
  if (!existsSync(marker)) return undefined;
  const sources = readFileSync(marker, 'utf8');
  const scratch = mkdtempSync(join(dirname(resolve(outDir)), 'validation-'));
  try {
    await synthesize(appDir, scratch, { validate: true, bundle: false });
    // Only if the assembly is still the one validated: a reload may have synthesized another meanwhile.
    if (existsSync(marker) && readFileSync(marker, 'utf8') === sources) rmSync(marker);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * What the CDK CLI puts in every app's context besides cdk.json's: the assembly then says which asset holds each
 * function's code (the local cloud reads it), and every stack's assets are bundled.
 */
const CLI_CONTEXT = {
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
  'aws:cdk:version-reporting': true,
  'aws:cdk:bundling-stacks': ['**'],
};

/**
 * Synthesizes as `cdk synth` does, without the CDK CLI: cdk.json's `app` command, in the app's folder, with CDK_OUTDIR
 * and the context the CLI would give it (its defaults, cdk.json's and cdk.context.json's), so that the App writes the
 * assembly there itself: the example app's synth took 9.7–11.6 s through the CLI and 7.4–9.7 s so, on the 2-core
 * machine this is built on. What the CLI adds beyond this, context lookups against an account, cannot be answered
 * offline either way. Bundling happens in the app, with its esbuild.
 */
async function synthesize(appDir: string, outDir: string, { validate, bundle }: { validate: boolean; bundle: boolean }): Promise<void> {
  const configFile = join(appDir, 'cdk.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { app?: unknown; context?: Record<string, unknown> };
  if (typeof config.app !== 'string') throw new Error(`${configFile} names no app command ("app")`);
  const savedFile = join(appDir, 'cdk.context.json');
  const saved = existsSync(savedFile) ? (JSON.parse(readFileSync(savedFile, 'utf8')) as Record<string, unknown>) : {};
  mkdirSync(outDir, { recursive: true });
  try {
    await run(config.app, {
      cwd: appDir,
      env: {
        ...process.env,
        CDK_OUTDIR: resolve(outDir),
        CDK_CONTEXT_JSON: JSON.stringify({ ...CLI_CONTEXT, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...config.context, ...saved }),
        ...(validate ? {} : { CDK_VALIDATION: 'false' }),
        // Where the CLI would put the profile's region: the assembly is for the local cloud's.
        CDK_DEFAULT_REGION: process.env.CDK_DEFAULT_REGION ?? LOCAL_REGION,
      },
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    // Findings go to stderr or stdout, as CDK's reporting decides; the trace is on stderr.
    throw new Error(`synth failed (${config.app}):\n${synthProblem(`${stdout}\n${stderr}`)}`);
  }
  if (!existsSync(join(outDir, 'manifest.json'))) throw new Error(`synth failed: ${config.app} wrote no cloud assembly (does it make an App?)`);
}

/**
 * What a failed synth's output says went wrong: a validation's findings (each "ERROR …" line and the construct path
 * under it) when there are any, else its last lines. Lines of minified library source, which a stack trace from a
 * bundled library prints, are left out.
 */
function synthProblem(output: string): string {
  // Colours too, which the app's output carries when FORCE_COLOR is set (as a test runner sets it).
  const lines = stripVTControlCharacters(output)
    .split('\n')
    .filter((line) => line.trim() !== '' && line.length <= 400);
  // A finding may follow the error's own name on its line ("[«ValidationFailed» ERROR …").
  const findings = lines.flatMap((line, index) => {
    const at = line.search(/(^|\s)ERROR /);
    if (at < 0) return [];
    const path = lines[index + 1] ?? '';
    return [line.slice(at).trimStart(), ...(path.startsWith(' ') ? [path] : [])];
  });
  return (findings.length > 0 ? findings : lines.slice(-5)).map((line) => line.trimEnd()).join('\n');
}
