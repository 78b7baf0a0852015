import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Writes `text` to `path` under `root`, folders included, with its modification time set to `atSeconds` (epoch). */
export function writeFileAt(root: string, path: string, text: string, atSeconds = Date.now() / 1000): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  utimesSync(join(root, path), atSeconds, atSeconds);
}
