/**
 * npm run bench:bundles — per function of the synthesized app (run `npm run synth` first): its bundle as deployed
 * (the AWS SDK bundled in) and its module init (a fresh Node process importing it, median of 5, as a cold start
 * would); beside it, the same handler built with the SDK left out for Lambda's runtime to provide (resolved from this
 * repository's node_modules, as the runtime resolves its own), its size and init; and the packages the deployed
 * bundle is made of.
 */
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCloudAssembly } from '../local/template.ts';

const assembly = resolve(process.argv[2] ?? 'cdk.out');

/** Milliseconds a fresh Node process takes to run `code` (ES module), median of 5. */
function medianMs(code: string): number {
  const samples = Array.from({ length: 5 }, () =>
    Number(execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); ${code}; console.log(performance.now() - t);`], { encoding: 'utf8' })),
  ).sort((a, b) => a - b);
  return samples[2]!;
}

const BUILD: BuildOptions = {
  bundle: true,
  minify: true,
  keepNames: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  mainFields: ['module', 'main'],
  conditions: ['delivery-policies:source'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'silent',
};

/** Where the SDK-external builds go: inside the repository, so that their `@aws-sdk/*` imports resolve. */
const EXTERNAL_BUILDS = resolve('.local-cloud/bench-bundles');

/** The handler built with the AWS SDK left to Lambda's runtime: its path. */
async function sdkExternal(entry: string, name: string): Promise<string> {
  mkdirSync(EXTERNAL_BUILDS, { recursive: true });
  const outfile = join(EXTERNAL_BUILDS, `${name}.mjs`);
  await build({ ...BUILD, entryPoints: [entry], external: ['@aws-sdk/*'], outfile });
  return outfile;
}

/** The packages a handler's bundle is made of, largest first, from an esbuild metafile of the same build. */
async function composition(entry: string): Promise<string> {
  const { metafile } = await build({ ...BUILD, entryPoints: [entry], metafile: true, write: false });
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const owner = inPackage ?? input.split('/').slice(0, 2).join('/');
      bytes.set(owner, (bytes.get(owner) ?? 0) + bytesInOutput);
    }
  }
  return [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([owner, size]) => `${owner} ${(size / 1024).toFixed(1)}`).join(', ');
}

const rows: string[] = [];
for (const stack of readCloudAssembly(assembly)) {
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (resource.Type !== 'AWS::Lambda::Function' || typeof assetPath !== 'string') continue;
    const bundle = join(assembly, assetPath, 'index.mjs');
    const init = medianMs(`await import(${JSON.stringify(bundle)})`);
    // The handler's own module is the one source of the bundle's map that a function folder names as its entry.
    const { sources } = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] };
    const entry = sources.find((source) => /functions\/(?!runtime\/)[^/]+\/(index|primary|fallback)\.ts$/.test(source));
    if (!entry) continue;
    const entryPath = resolve(join(assembly, assetPath), entry);
    const name = logicalId.replace(/[0-9A-F]{8}$/, '');
    const external = await sdkExternal(entryPath, name);
    const externalInit = medianMs(`await import(${JSON.stringify(external)})`);
    const kib = (file: string) => `${(statSync(file).size / 1024).toFixed(1)} KiB`;
    rows.push(`| ${name} | ${kib(bundle)} | ${init.toFixed(0)} ms | ${kib(external)} | ${externalInit.toFixed(0)} ms | ${await composition(entryPath)} |`);
  }
}
console.log('| function | deployed: SDK bundled | its init (median of 5) | SDK from Lambda\'s runtime | its init | largest parts of the deployed bundle (KiB) |');
console.log('|---|---|---|---|---|---|');
console.log(rows.join('\n'));
