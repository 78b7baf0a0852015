#!/usr/bin/env node
// Starts msg. Installed, the package holds only the build, and this runs it. In the library's own repository the
// TypeScript source is here: Node (>= 22.18) runs it with types stripped, resolving the package's own name to its
// source by the "delivery-policies:source" condition, as the example app, the tests and the CDK app do.
// The version check first, and node:module's default export rather than a named import of registerHooks: a Node too
// old to have it fails to link this file before any line of it runs.
import './require-node.js';
import { existsSync } from 'node:fs';
import nodeModule from 'node:module';

// The SQS emulator uses node:sqlite, which Node 22 announces as experimental on every start of the local cloud;
// msg prints one line per outcome, so that notice is dropped and every other warning still shown.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning' && /SQLite/.test(warning.message)) return;
  console.error(`${warning.name}: ${warning.message}`);
});

const source = new URL('./msg.ts', import.meta.url);
if (existsSync(source)) {
  nodeModule.registerHooks({
    resolve: (specifier, context, nextResolve) =>
      nextResolve(specifier, { ...context, conditions: [...context.conditions, 'delivery-policies:source'] }),
  });
  await import(source.href);
} else {
  await import('../dist/bin/msg.js');
}
