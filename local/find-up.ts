import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The nearest folder, from `start` upward, that holds `relativePath`; undefined when none up to the root does. */
export function findUp(start: string, relativePath: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, relativePath))) return dir;
    if (dir === dirname(dir)) return undefined;
  }
}
