/**
 * npm run bench:bundles — size and module init time of each function bundle in cdk.out (run `npm run synth`
 * first). Init time is a fresh Node process importing the bundle, median of 5, as a Lambda cold start would.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCloudAssembly } from '../local/template.ts';

const assembly = resolve(process.argv[2] ?? 'cdk.out');
const rows: string[] = [];
for (const stack of readCloudAssembly(assembly)) {
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (resource.Type !== 'AWS::Lambda::Function' || typeof assetPath !== 'string') continue;
    const bundle = join(assembly, assetPath, 'index.mjs');
    const samples = Array.from({ length: 5 }, () =>
      Number(execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(bundle)}); console.log(performance.now() - t);`], { encoding: 'utf8' })),
    ).sort((a, b) => a - b);
    rows.push(`| ${logicalId.replace(/[0-9A-F]{8}$/, '')} | ${(statSync(bundle).size / 1024).toFixed(0)} KiB | ${samples[2]!.toFixed(0)} ms |`);
  }
}
console.log('| function | bundle (minified ESM) | module init (median of 5) |');
console.log('|---|---|---|');
console.log(rows.join('\n'));
