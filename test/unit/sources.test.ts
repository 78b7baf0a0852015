import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceKey } from '../../local/sources.ts';
import { writeFileAt } from '../helpers/files.ts';

describe('Function: sourceKey (whether the local cloud may reuse the last synth)', () => {
  const root = mkdtempSync(join(tmpdir(), 'source-key-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string, at?: number) => writeFileAt(root, path, text, at);
  write('cdk.json', JSON.stringify({ app: 'node bin/app.ts', watch: { include: ['bin/**', 'lib/**', 'functions/**'], exclude: ['test', 'fixtures'] } }), 1_000);
  write('bin/app.ts', 'app', 1_000);
  write('functions/orders/index.ts', 'handler', 1_000);
  write('test/app.test.ts', 'test', 1_000);

  it('stays the same while nothing the synth reads has changed', () => {
    const before = sourceKey(root);
    write('test/app.test.ts', 'another test', 2_000);
    write('node_modules/some/index.js', 'dependency', 2_000);
    write('lib/fixtures/sample.json', '{}', 2_000);
    expect(sourceKey(root)).toBe(before);
  });

  it('changes when a handler, the app, cdk.json or the lock file changes', () => {
    const keys = new Set([sourceKey(root)]);
    // The same length, a new time: an edit that keeps a file's size must still count.
    write('bin/app.ts', 'apq', 2_500);
    keys.add(sourceKey(root));
    write('functions/orders/index.ts', 'handler, edited', 3_000);
    keys.add(sourceKey(root));
    write('functions/invoices/index.ts', 'a new handler', 3_000);
    keys.add(sourceKey(root));
    write('package-lock.json', '{}', 3_000);
    keys.add(sourceKey(root));
    write('cdk.json', JSON.stringify({ app: 'node bin/app.ts' }), 4_000);
    keys.add(sourceKey(root));
    expect(keys.size).toBe(6);
  });
});
