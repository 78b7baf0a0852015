import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The dependency rules of docs/DESIGN.md, read from the import statements: the library never reaches into the
 * example app, each layer imports only what it may, and every package the library imports is one it declares.
 */

const root = resolve(import.meta.dirname, '../..');
const LIBRARY = ['lib/policy', 'lib/constructs', 'lib/client', 'lib/cli', 'lib/console', 'functions/runtime', 'local', 'bin/msg.ts', 'bin/msg.js'];
const EXAMPLE = ['lib/channels.ts', 'lib/stacks', 'functions/orders', 'functions/presence', 'functions/quotes', 'template', 'bench', 'test'];

function files(path: string): string[] {
  const absolute = join(root, path);
  if (statSync(absolute).isFile()) return [path];
  return readdirSync(absolute).flatMap((entry) => files(join(path, entry))).filter((file) => /\.(ts|js)$/.test(file));
}

/** Every module a file imports: static imports and exports, bare imports, and import() of a literal, in either quotes. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(root, file), 'utf8');
  const forms = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...source.matchAll(forms)].map((match) => match[1] ?? match[2] ?? match[3]!);
}

const under = (file: string, paths: readonly string[]) => paths.some((path) => file === path || file.startsWith(`${path}/`));
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

describe('dependency rules', () => {
  const library = LIBRARY.flatMap(files);
  const edges = library.flatMap((file) => importsOf(file).map((specifier) => ({ file, specifier })));

  it('finds the imports it checks', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ file: 'lib/constructs/catalog.ts', specifier: './channel.ts' });
  });

  it('the library never imports the example app, its tests or benchmarks', () => {
    const intoExample = edges
      .filter(({ specifier }) => specifier.startsWith('.'))
      .map(({ file, specifier }) => ({ file, target: relative(root, resolve(root, dirname(file), specifier)) }))
      .filter(({ target }) => under(target, EXAMPLE));
    expect(intoExample).toStrictEqual([]);
  });

  it('the policy model imports neither CDK nor the AWS SDK; handlers and the client never import CDK', () => {
    const forbidden = (paths: string[], pattern: RegExp) =>
      edges.filter(({ file, specifier }) => under(file, paths) && pattern.test(specifier));
    expect(forbidden(['lib/policy'], /^(aws-cdk-lib|constructs|@aws-sdk)(\/|$)/)).toStrictEqual([]);
    expect(forbidden(['functions/runtime', 'lib/client'], /^(aws-cdk-lib|constructs)(\/|$)/)).toStrictEqual([]);
  });

  it("a responder's modules reach no AWS SDK: a request-response cold start loads none (about 60 ms of INIT)", () => {
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('.')) visit(relative(root, resolve(root, dirname(file), specifier)));
        else reached.add(specifier);
      }
    };
    visit('functions/runtime/responder.ts');
    expect(reached).toContain('lib/policy/resolve.ts');
    expect([...reached].filter((module) => module.startsWith('@aws-sdk/'))).toStrictEqual([]);
  });

  it('every package the library imports is a dependency or peer dependency it declares', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const declared = new Set([...Object.keys(manifest.dependencies!), ...Object.keys(manifest.peerDependencies!)]);
    const typesOnly = (name: string) => declared.has(`@types/${name}`);
    const undeclared = edges
      .filter(({ specifier }) => !specifier.startsWith('.') && !specifier.startsWith('node:') && !builtinModules.includes(specifier))
      .filter(({ specifier }) => !declared.has(packageOf(specifier)) && !typesOnly(packageOf(specifier)));
    expect(undeclared).toStrictEqual([]);
  });
});
