import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findUp } from './find-up.ts';
import { sourceKey } from './sources.ts';

const run = promisify(execFile);

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
 * Runs `cdk synth` with the CDK CLI the app installed (the nearest node_modules/.bin/cdk up from its folder), in its
 * folder; bundling happens there, offline, with the project's esbuild.
 */
async function synthesize(appDir: string, outDir: string): Promise<void> {
  const cdk = join(findUp(appDir, join('node_modules', '.bin', 'cdk')) ?? appDir, 'node_modules', '.bin', 'cdk');
  try {
    await run(cdk, ['synth', '--quiet', '--output', outDir], {
      cwd: appDir,
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`cdk synth failed:\n${stderr}`);
  }
}
