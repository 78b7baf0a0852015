import { exec } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
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
}

/**
 * Synthesizes the app in `appDir` into `outDir` unless the assembly there is from the same sources (their key is
 * written beside it); answers whether it synthesized.
 */
export async function synthesizeUnlessUnchanged(appDir: string, outDir: string, options: SynthesisOptions): Promise<boolean> {
  const keyFile = join(outDir, '.source-key');
  const key = sourceKey(appDir);
  if (!options.resynthesize && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) return false;
  if (options.clearFirst) rmSync(outDir, { recursive: true, force: true });
  await synthesize(appDir, outDir);
  writeFileSync(keyFile, key);
  return true;
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
async function synthesize(appDir: string, outDir: string): Promise<void> {
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
        CDK_CONTEXT_JSON: JSON.stringify({ ...CLI_CONTEXT, ...config.context, ...saved }),
        // Where the CLI would put the profile's region: the assembly is for the local cloud's.
        CDK_DEFAULT_REGION: process.env.CDK_DEFAULT_REGION ?? LOCAL_REGION,
      },
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`synth failed (${config.app}):\n${stderr}`);
  }
  if (!existsSync(join(outDir, 'manifest.json'))) throw new Error(`synth failed: ${config.app} wrote no cloud assembly (does it make an App?)`);
}
