/**
 * npm run bench:bundles — per function of the synthesized app (run `npm run synth` first): the bundle's size, its
 * module init time (a fresh Node process importing it, median of 5, as a cold start would), how much of that the
 * AWS SDK modules it imports take on their own (the SDK stays external: Lambda's runtime provides it), and the
 * packages the bundle is made of.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
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

/** The packages a handler's bundle is made of, largest first, from an esbuild metafile of the same build. */
async function composition(entry: string): Promise<string> {
  const { metafile } = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: ['@aws-sdk/*'],
    conditions: ['delivery-policies:source'],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
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
    const text = readFileSync(bundle, 'utf8');
    const sdk = [...new Set([...text.matchAll(/from"(@aws-sdk\/[^"]+)"/g)].map((match) => match[1]!))];
    const init = medianMs(`await import(${JSON.stringify(bundle)})`);
    const sdkInit = sdk.length > 0 ? medianMs(`await Promise.all(${JSON.stringify(sdk)}.map((name) => import(name)))`) : 0;
    // The handler's own module is the one source of the bundle's map that a function folder names as its entry.
    const { sources } = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] };
    const entry = sources.find((source) => /functions\/(?!runtime\/)[^/]+\/(index|primary|fallback)\.ts$/.test(source));
    const parts = entry ? await composition(resolve(join(assembly, assetPath), entry)) : '';
    const name = logicalId.replace(/[0-9A-F]{8}$/, '');
    rows.push(`| ${name} | ${(statSync(bundle).size / 1024).toFixed(1)} KiB | ${init.toFixed(0)} ms | ${sdk.length > 0 ? `${sdkInit.toFixed(0)} ms` : 'none'} | ${parts} |`);
  }
}
console.log('| function | bundle (minified ESM) | module init (median of 5) | of it, the SDK modules alone | largest parts (KiB) |');
console.log('|---|---|---|---|---|');
console.log(rows.join('\n'));
