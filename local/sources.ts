import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Folders that never hold the app's sources: dependencies, build output, state. */
const NEVER = new Set(['node_modules', 'cdk.out', '.local-cloud', '.git', 'dist', 'coverage']);

/**
 * A key that changes whenever anything a `cdk synth` of the app in `root` reads may have changed: every file the
 * app's cdk.json `watch` settings cover (as `cdk watch` reads them; the whole folder without them), cdk.json
 * itself, the lock file (an upgraded library), by path, size and modification time. Equal keys let the local cloud
 * reuse the cloud assembly instead of synthesizing again.
 */
export function sourceKey(root: string): string {
  const config = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { watch?: { include?: string[]; exclude?: string[] } };
  const prefixes = (config.watch?.include ?? ['**']).map((pattern) => pattern.split('*')[0]!.replace(/\/$/, ''));
  const excluded = new Set([...NEVER, ...(config.watch?.exclude ?? [])]);
  const files = new Set(['cdk.json', 'cdk.context.json', 'package.json', 'package-lock.json'].filter((file) => existsSync(join(root, file))));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const relativePath = relative(root, path);
      if (excluded.has(entry.name) || excluded.has(relativePath)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.add(relativePath);
    }
  };
  for (const prefix of new Set(prefixes)) {
    const start = join(root, prefix);
    if (!existsSync(start)) continue;
    if (statSync(start).isDirectory()) walk(start);
    else files.add(relative(root, start));
  }
  const hash = createHash('sha256');
  for (const file of [...files].sort()) {
    const { size, mtimeMs } = statSync(join(root, file));
    hash.update(`${file}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex');
}
