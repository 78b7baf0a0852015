import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMsg } from '../../lib/cli/main.ts';
import { startExampleCloud, type ExampleCloud } from '../helpers/example-cloud.ts';

/**
 * Every shell command README shows, run as written against the example app on the local cloud: msg's commands in
 * this process (as bin/msg.js runs them), the AWS CLI's with each AWS CLI this machine has. Only the endpoints'
 * ports differ (the test's cloud takes free ones), and a placeholder (<correlationId>, a file name, ids) is filled
 * in. The commands that are not run here are each named below with where they run instead or what they need.
 */

const README = readFileSync('README.md', 'utf8');
const execFileAsync = promisify(execFile);

/** README's shell commands, in order: continuation lines joined, comments and blank lines dropped. */
function commands(): string[] {
  const blocks = [...README.matchAll(/```bash\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks.flatMap((block) =>
    block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map(withoutComment)
      .filter((line) => line.length > 0),
  );
}

/** A line without its trailing # comment, quotes respected. */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '#' && (index === 0 || /\s/.test(line[index - 1]!))) {
      return line.slice(0, index).trim();
    }
  }
  return line.trim();
}

/** A command line's words, as a POSIX shell splits one without expansions: single and double quotes. */
function words(line: string): string[] {
  const found: string[] = [];
  let current: string | undefined;
  let quote: string | undefined;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else current = (current ?? '') + char;
    } else if (char === "'" || char === '"') {
      quote = char;
      current ??= '';
    } else if (/\s/.test(char)) {
      if (current !== undefined) found.push(current);
      current = undefined;
    } else {
      current = (current ?? '') + char;
    }
  }
  if (current !== undefined) found.push(current);
  return found;
}

/** The commands run elsewhere or needing what this machine lacks, each with where or why. */
const NOT_RUN_HERE: readonly [RegExp, string][] = [
  [/^npm (ci|test)$/, 'CI runs them (.ci/run)'],
  [/^npm start\b|^npx msg local\b/, 'msg local: test/integration/cli.test.ts starts it as a process'],
  [/^npx --package delivery-policies msg init|^npx msg init|^cd my-app/, 'msg init and the new app: test/package/package.test.ts'],
  [/localstack/, 'needs Docker (LocalStack)'],
  [/--target aws$|^npx cdk bootstrap|^npm run deploy|^E2E_TARGET=aws/, 'needs an AWS account'],
];

const scratch = mkdtempSync(join(tmpdir(), 'readme-'));
let example: ExampleCloud;

beforeAll(async () => {
  example = await startExampleCloud('readme');
});

afterAll(async () => {
  await example?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function msg(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const chunks = { stdout: '', stderr: '' };
  const sink = (name: 'stdout' | 'stderr') => new Writable({ write: (chunk, _encoding, done) => done(void (chunks[name] += String(chunk))) });
  const code = await runMsg(args, { stdin: Readable.from(['']), stdout: sink('stdout'), stderr: sink('stderr'), env: { ...process.env, MSG_LOCAL_STATE_DIR: example.stateDir } });
  return { code, ...chunks };
}

/** Each AWS CLI this machine has: the one on PATH (v1 on some machines) and Debian's v2, which CI installs. */
const AWS_CLIS = [...new Set(['aws', '/usr/bin/aws'].filter((cli) => spawnSync(cli, ['--version']).status === 0))];

describe("README's shell commands", () => {
  it('each runs as written on the local cloud, or is named with where it runs or what it needs', async () => {
    const { cloud } = example;
    let lastCorrelationId: string | undefined;
    const notice = join(scratch, 'notice.json');
    writeFileSync(notice, JSON.stringify({ userId: 'u-1', activity: 'typing', room: 'r-1' }));
    const endpoints: [RegExp, string][] = [
      [/http:\/\/127\.0\.0\.1:8000/g, cloud.endpoints.dynamodb],
      [/http:\/\/127\.0\.0\.1:3001/g, cloud.endpoints.lambda],
      [/http:\/\/127\.0\.0\.1:4100/g, cloud.endpoints.sns],
      [/http:\/\/127\.0\.0\.1:9324/g, cloud.endpoints.sqs],
    ];
    const ran: string[] = [];
    for (const line of commands()) {
      if (NOT_RUN_HERE.some(([pattern]) => pattern.test(line))) continue;
      if (line.startsWith('npx msg ')) {
        const args = words(line)
          .slice(2)
          .map((word) => (word === '<correlationId>' ? lastCorrelationId! : word === 'notice.json' ? notice : word));
        const result = await msg(args);
        expect(result.code, `${line}\n${result.stderr}`).toBe(0);
        const correlationId = /"correlationId": "([^"]+)"/.exec(result.stdout)?.[1];
        if (args[0] === 'send' && correlationId) lastCorrelationId = correlationId;
        ran.push(line);
        continue;
      }
      if (line.startsWith('aws ')) {
        const [, ...args] = words(endpoints.reduce((text, [pattern, endpoint]) => text.replace(pattern, endpoint), line));
        for (const cli of AWS_CLIS) {
          // Asynchronously: the local cloud answers from this process.
          const result = await execFileAsync(cli, args, {
            // What the start screen's export lines set.
            env: { ...process.env, AWS_REGION: cloud.endpoints.region, AWS_DEFAULT_REGION: cloud.endpoints.region, AWS_ACCESS_KEY_ID: cloud.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: cloud.credentials.secretAccessKey, AWS_PAGER: '' },
          }).then(() => ({ status: 0, stderr: '' }), (error: { code?: number; stderr?: string }) => ({ status: error.code, stderr: error.stderr }));
          expect(result.status, `${cli}: ${line}\n${result.stderr}`).toBe(0);
        }
        ran.push(line);
        continue;
      }
      throw new Error(`README shows a command this test neither runs nor names: ${line}`);
    }
    // The quick start and the CLI's list at least; the AWS CLI's when one is installed
    expect(ran.filter((line) => line.startsWith('npx msg ')).length).toBeGreaterThanOrEqual(20);
    if (AWS_CLIS.length > 0) expect(ran.filter((line) => line.startsWith('aws ')).length).toBe(3);
  });
});
