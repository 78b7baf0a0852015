/**
 * npm run bench:install — what a new app (`msg init`) installs, deploy-only and with the local cloud: the packages
 * and their size on disk, from this repository's node_modules (the same versions; nothing is fetched). Deploy-only
 * is what `npm install --omit=dev` leaves plus the CDK CLI: the library's dependencies and required peers, and the
 * app's own. The local cloud adds the emulators, optional peers of the library. Prints figures; asserts nothing.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
interface Manifest {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Where Node finds `name` from the package in `from`: its own node_modules first, then up to the root's. */
function packageDir(name: string, from: string): string | undefined {
  for (let dir = from; dir.startsWith(root); dir = join(dir, '..')) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  return undefined;
}

/** Bytes on disk under `dir`, without its own node_modules (counted as packages of their own). */
function bytes(dir: string): number {
  return readdirSync(dir).reduce((total, entry) => {
    if (entry === 'node_modules') return total;
    const path = join(dir, entry);
    const stat = lstatSync(path);
    return total + (stat.isDirectory() ? bytes(path) : stat.size);
  }, 0);
}

/** The packages `names` bring, each once: dependencies, installed optional dependencies and required peers. */
function closure(names: readonly string[]): Map<string, number> {
  const found = new Map<string, number>();
  const visit = (name: string, from: string) => {
    const dir = packageDir(name, from);
    if (!dir || found.has(dir)) return;
    found.set(dir, bytes(dir));
    const manifest = manifestOf(dir);
    const peers = Object.keys(manifest.peerDependencies ?? {}).filter((peer) => !manifest.peerDependenciesMeta?.[peer]?.optional);
    for (const next of [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.optionalDependencies ?? {}), ...peers]) visit(next, dir);
  };
  for (const name of names) visit(name, root);
  return found;
}

const library = manifestOf(root);
const requiredPeers = Object.keys(library.peerDependencies ?? {}).filter((name) => !library.peerDependenciesMeta?.[name]?.optional);
// The app msg init writes: its dependencies besides the library, and the CDK CLI it deploys with.
const deployOnly = [...Object.keys(library.dependencies ?? {}), ...requiredPeers, 'aws-cdk'];
const emulators = Object.keys(library.peerDependenciesMeta ?? {}).filter((name) => library.peerDependenciesMeta![name]!.optional);

const mib = (sizes: Map<string, number>) => [...sizes.values()].reduce((total, size) => total + size, 0) / 1024 / 1024;
const rows: [string, Map<string, number>][] = [
  ['deploy-only (dependencies, required peers, aws-cdk)', closure(deployOnly)],
  [`with the local cloud (+ ${emulators.join(', ')})`, closure([...deployOnly, ...emulators])],
  ['the emulators alone', closure(emulators)],
];
console.log('| a new app installs | packages | on disk |');
console.log('|---|---|---|');
for (const [label, sizes] of rows) console.log(`| ${label} | ${sizes.size} | ${mib(sizes).toFixed(1)} MiB |`);
