#!/usr/bin/env node
// Says in one line when this Node.js is older than the one package.json's engines asks for, and exits 3 (an
// environment error, as msg's); silent otherwise. msg runs it first, and `npm test` before the type check: an older
// Node fails further on with a stack trace that names neither version (Node 20: "does not provide an export named
// 'registerHooks'"). Plain JavaScript that every Node from 12 on parses.
import { readFileSync } from 'node:fs';

const engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines;
const needed = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(engines.node);
const found = process.versions.node.split('.').map(Number);
const wanted = needed.slice(1).map(Number);
const older = found[0] !== wanted[0] ? found[0] < wanted[0] : found[1] !== wanted[1] ? found[1] < wanted[1] : found[2] < wanted[2];
if (older) {
  process.stderr.write(
    `Node.js ${process.versions.node} is too old: this project needs ${wanted.join('.')} or newer (.nvmrc says 22). ` +
      'Get it with `nvm install` here, or from https://nodejs.org. [NODE_TOO_OLD]\n',
  );
  process.exit(3);
}
