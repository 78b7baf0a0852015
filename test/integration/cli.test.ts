import { ListQueuesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { spawn, spawnSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../lib/channels.ts';
import { runMsg } from '../../lib/cli/main.ts';
import type { MessagingClient, TraceNode } from '../../lib/client/index.ts';
import { MessageAttribute, OutputKey } from '../../lib/policy/index.ts';
import type { LocalCloud } from '../../local/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { withExampleAssembly } from '../helpers/example-assembly.ts';
import { startExampleCloud, type ExampleCloud } from '../helpers/example-cloud.ts';

const scratch = mkdtempSync(join(tmpdir(), 'msg-cli-'));
let example: ExampleCloud;
let cloud: LocalCloud;
let client: MessagingClient<typeof channels>;
let stateDir: string;

beforeAll(async () => {
  example = await startExampleCloud('cli');
  ({ cloud, client, stateDir } = example);
});

afterAll(async () => {
  await example?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  json(): any;
}

/**
 * Runs msg in this process, as bin/msg.ts runs it, on streams of the test's own: the CLI's code and the SDK are loaded
 * once, where a process of its own per call cost half a second of CPU each. spawnMsg runs the real process, for what
 * only a process shows (its exit status, its output through a pipe, the environment the AWS SDK reads).
 */
async function msg(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  const collect = () => {
    const chunks: string[] = [];
    return { stream: new Writable({ write: (chunk, _encoding, done) => done(void chunks.push(String(chunk))) }), text: () => chunks.join('') };
  };
  const [stdout, stderr] = [collect(), collect()];
  const code = await runMsg(args, {
    stdin: Readable.from([options.input ?? '']),
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { ...process.env, MSG_LOCAL_STATE_DIR: stateDir, ...options.env },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text().trim(), json: () => JSON.parse(stdout.text()) };
}

/** msg as a process of its own, as a user runs it; asynchronously, since the emulators serve from this process. */
function spawnMsg(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['bin/msg.js', ...args], {
    env: { ...process.env, MSG_LOCAL_STATE_DIR: stateDir, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr: stderr.trim(), json: () => JSON.parse(stdout) })),
  );
}

/** A user mistake: one line on stderr naming the code, no stack trace, the exit status of its kind. */
function expectUserError(result: CliResult, code: string, exitCode: number) {
  expect(result.code).toBe(exitCode);
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(new RegExp(`^msg: .+ \\[${code}\\]$`));
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
}

describe('CLI: everyday commands', () => {
  it('lists the channels with their policies and endpoints', async () => {
    const result = await msg(['channels', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toEqual([
      expect.objectContaining({ name: 'orders', policy: 'guaranteed', endpoints: expect.objectContaining({ ordersQueueUrl: expect.any(String) }) }),
      expect.objectContaining({ name: 'presence', policy: 'fire-and-forget' }),
      expect.objectContaining({ name: 'quotes', policy: 'request-response' }),
      expect.objectContaining({ name: 'billing', policy: 'guaranteed' }),
      expect.objectContaining({ name: 'shipping', policy: 'guaranteed' }),
      expect.objectContaining({ name: 'salesAlerts', policy: 'fire-and-forget' }),
      expect.objectContaining({ name: 'ledger', policy: 'guaranteed' }),
    ]);
  });

  it('publishes an event that every subscriber takes, and refuses a bad one offline in one line', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const published = await msg(['publish', 'orderPlaced', JSON.stringify({ orderId, customerId: 'c-p', totalCents: 120_000 }), '--correlation-id', `placed-${orderId}`, '--json']);
    expect(published.code).toBe(0);
    expect(published.json()).toMatchObject({ topic: 'orderPlaced', messageId: expect.any(String), correlationId: `placed-${orderId}` });
    const invoice = await msg(['await', `placed-${orderId}`, '--channel', 'billing', '--max-wait', '60', '--json']);
    expect(invoice.json()).toStrictEqual({ invoiceId: `INV-${orderId}`, amountCents: 120_000 });

    expectUserError(await msg(['publish', 'orderPlaced', '{"orderId":"o-1"}']), 'SCHEMA_VIOLATION', 2);
    expectUserError(await msg(['publish', 'orderShipped', '{}']), 'UNKNOWN_TOPIC', 2);
  });

  it('traces an event through its subscribers and on to the ledger, as text and as data', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const id = `traced-${orderId}`;
    expect((await msg(['publish', 'orderPlaced', JSON.stringify({ orderId, customerId: 'c-t', totalCents: 900 }), '--correlation-id', id])).code).toBe(0);

    // Once every hop is recorded: billing and shipping took the event, and the ledger the invoice billing sent on.
    const complete = (nodes: TraceNode[]) => nodes.length === 2 && nodes.every((node) => node.status === 'succeeded') && nodes[0]!.onward[0]?.status === 'succeeded';
    const trace = await eventually(async () => (await msg(['trace', id, '--json'])).json() as TraceNode[], complete);

    expect(trace.map((node) => [node.channel, node.topic, node.events.map((event) => event.what)])).toStrictEqual([
      ['billing', 'orderPlaced', ['sent', 'applied', 'sent on']],
      ['shipping', 'orderPlaced', ['sent', 'claimed', 'applied']],
    ]);
    const [entry] = trace[0]!.onward;
    expect(entry).toMatchObject({ channel: 'ledger', causationId: id, flowId: id, status: 'succeeded', onward: [] });
    expect(trace[0]!.events.at(-1)!.onward).toStrictEqual([`ledger ${entry!.correlationId}`]);

    const text = await msg(['trace', id]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`billing (through orderPlaced)  ${id}  succeeded\n`);
    expect(text.stdout).toContain(`    ledger  ${entry!.correlationId}  succeeded, caused by ${id}\n`);
    expect(text.stdout).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}sent on \(receive 1\): ledger /m);
    expect((await msg(['trace', 'no-such-id'])).stdout).toMatch(/^no-such-id: no lifecycle record/);
  });

  it('sends an order, awaits its reply and shows its status', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const sent = await msg(['send', 'orders', JSON.stringify({ orderId, customerId: 'c-9', items: [{ sku: 'tea', quantity: 2 }] }), '--json']);
    expect(sent.code).toBe(0);
    const { correlationId } = sent.json();

    const awaited = await msg(['await', correlationId, '--max-wait', '60', '--json']);
    expect(awaited.code).toBe(0);
    expect(awaited.json()).toMatchObject({ orderId, itemCount: 2 });

    const status = await msg(['status', correlationId, '--json']);
    expect(status.json()).toEqual([expect.objectContaining({ status: 'succeeded', channel: 'orders', attempts: 1 })]);
  });

  it('reads the payload from a file and from standard input', async () => {
    const order = (orderId: string) => JSON.stringify({ orderId, customerId: 'c-io', items: [{ sku: 'bread', quantity: 1 }] });
    const file = join(scratch, 'order.json');
    writeFileSync(file, order('o-from-file'));
    const fromFile = await msg(['send', 'orders', '--file', file, '--json']);
    // Standard input through a real process: the one this file's runs share is not a stream the test controls.
    const fromStdin = await spawnMsg(['send', 'orders', '--file', '-', '--json'], { input: order('o-from-stdin') });
    expect([fromFile.code, fromStdin.code]).toStrictEqual([0, 0]);
    // What the consumer applied is what was in the file and on standard input.
    expect(await client.awaitReply(fromFile.json().correlationId, { maxWaitTime: 60 })).toMatchObject({ orderId: 'o-from-file' });
    expect(await client.awaitReply(fromStdin.json().correlationId, { maxWaitTime: 60 })).toMatchObject({ orderId: 'o-from-stdin' });
  });

  it('says unknown for an id no consumer has seen, and not tracked on a fire-and-forget channel', async () => {
    const unknown = (await msg(['status', 'no-such-message', '--json'])).json();
    expect(unknown).toStrictEqual([{ status: 'unknown', correlationId: 'no-such-message' }]);
    const untracked = (await msg(['status', 'some-notice', '--channel', 'presence', '--json'])).json();
    expect(untracked).toStrictEqual([{ status: 'not-tracked', correlationId: 'some-notice', channel: 'presence' }]);
  });

  it('sends and waits for the reply in one command, pushed, and leaves no reply queue behind', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    // A process of its own: msg exits once it has printed, which must not cut off the deletion of its reply queue.
    const result = await spawnMsg(['send', 'orders', JSON.stringify({ orderId, customerId: 'c-w', items: [{ sku: 'tea', quantity: 3 }] }), '--wait', '--max-wait', '60', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ channel: 'orders', correlationId: expect.any(String), replyPushed: true, reply: { orderId, itemCount: 3 } });
    const { QueueUrls = [] } = await client.sqs.send(new ListQueuesCommand({ QueueNamePrefix: client.output(OutputKey.replyQueuePrefix) }));
    expect(QueueUrls).toStrictEqual([]);
  });

  it("counts each queue-backed channel's messages, and each topic's subscribers and undelivered events", async () => {
    const stats = async () => {
      const result = await msg(['stats', '--json']);
      expect(result.code).toBe(0);
      return result.json() as { channel: string; deadLetters?: number }[];
    };
    const before = await stats();
    const counts = { waiting: expect.any(Number), inFlight: expect.any(Number), delayed: expect.any(Number) };
    expect(before).toStrictEqual([
      { channel: 'orders', policy: 'guaranteed', ...counts, deadLetters: expect.any(Number) },
      { channel: 'presence', policy: 'fire-and-forget', ...counts },
      { channel: 'billing', policy: 'guaranteed', ...counts, deadLetters: expect.any(Number) },
      { channel: 'shipping', policy: 'guaranteed', ...counts, deadLetters: expect.any(Number) },
      { channel: 'salesAlerts', policy: 'fire-and-forget', ...counts },
      { channel: 'ledger', policy: 'guaranteed', ...counts, deadLetters: expect.any(Number) },
      { topic: 'orderPlaced', subscribers: ['billing', 'shipping', 'salesAlerts'], undelivered: 0 },
    ]);
    // Two letters put straight in the orders DLQ, which no consumer reads, are two more dead letters.
    for (const body of ['{"dead":1}', '{"dead":2}']) await client.sqs.send(new SendMessageCommand({ QueueUrl: client.output(OutputKey.deadLetterQueueUrl('orders')), MessageBody: body }));
    expect((await stats())[0]!.deadLetters).toBe(before[0]!.deadLetters! + 2);
  });

  it('prints its version and per-command help within 100 columns', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect((await msg(['--version'])).stdout.trim()).toBe(version);
    for (const command of [[], ['send'], ['publish'], ['request'], ['dlq', 'redrive'], ['stats'], ['local'], ['trace']]) {
      const result = await msg([...command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^usage: msg /);
      expect(result.stdout.split('\n').filter((line) => line.length > 100)).toStrictEqual([]);
    }
  });

  it('asks a request-response channel', async () => {
    const result = await msg(['request', 'quotes', '{"sku":"bread","quantity":3}', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ responder: 'primary', answer: { totalCents: 1047, source: 'live' } });
  });
});

/** A Node.js older than the project needs, if this machine has one beside the one running the tests (Debian's, say). */
const olderNode = [process.env.OLDER_NODE, '/usr/bin/node', '/usr/local/bin/node'].find((path) => {
  if (!path || !existsSync(path)) return false;
  const [major = 0, minor = 0] = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim().split('.').map(Number);
  return major < 22 || (major === 22 && minor < 18);
});
if (!olderNode) console.warn('the too-old-Node test is skipped: no Node.js older than 22.18 found (set OLDER_NODE to one)');

describe.skipIf(!olderNode)('on a Node.js too old for the project', () => {
  it('msg, npm start and npm test each say so in one line naming both versions, and exit 3', () => {
    for (const args of [['bin/msg.js', '--version'], ['bin/msg.js', 'local'], ['bin/require-node.js']]) {
      const result = spawnSync(olderNode!, args, { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(3);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^Node\.js \d+\.\d+\.\d+ is too old: this project needs 22\.18\.0 or newer .*\[NODE_TOO_OLD\]\n$/);
    }
  });
});

describe('CLI: msg local', () => {
  it('stops the local cloud, emulators and endpoints file included, when the process that started it is killed', async () => {
    // GIVEN msg local under a shell, as npm start runs it
    const dir = withExampleAssembly(join(scratch, 'local'));
    const shell = spawn('sh', ['-c', `exec 3>&1; ${JSON.stringify(process.execPath)} bin/msg.js local --ports 0 & echo $! >&3; wait`], {
      env: { ...process.env, MSG_LOCAL_STATE_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    shell.stdout.on('data', (chunk) => (output += chunk));
    const ready = await eventually(async () => output, (text) => text.includes('Ctrl-C stops everything'), 90_000);
    const cloudPid = Number(ready.split('\n')[0]);
    type Endpoints = { sqs: string; dynamodb: string; emulators: { sqs: string; dynamodb: string } };
    const { sqs, dynamodb, emulators } = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as Endpoints;
    // AND its console, whose URL it printed, with its token
    const consoleUrl = /Console {3}(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(ready)?.[1];
    expect(consoleUrl, ready).toBeDefined();
    expect((await fetch(consoleUrl!)).status).toBe(200);
    // WHEN the shell dies without passing a signal on (what a SIGTERM to npm does)
    shell.kill('SIGKILL');
    // THEN the orphaned cloud stops by itself, its emulators (DynamoDB Local's JVM too) and console with it, and leaves no endpoints file
    expect(await eventually(async () => alive(cloudPid), (running) => !running)).toBe(false);
    for (const endpoint of [sqs, dynamodb, emulators.sqs, emulators.dynamodb, consoleUrl!]) expect(await eventually(() => refuses(endpoint), (refused) => refused)).toBe(true);
    expect(existsSync(join(dir, 'endpoints.json'))).toBe(false);
  });

  it("stops DynamoDB Local's JVM with the process that started it, even one killed with SIGKILL", async () => {
    // GIVEN a process that started DynamoDB Local, as msg local does
    const starter = spawn(process.execPath, ['--conditions=delivery-policies:source', '--input-type=module', '-e', "const { startDynamoDbLocal } = await import('./local/emulators.ts'); console.log((await startDynamoDbLocal()).endpoint);"], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    starter.stdout.on('data', (chunk) => (output += chunk));
    const endpoint = (await eventually(async () => output, (text) => text.includes('http://'))).trim();
    expect(await refuses(endpoint)).toBe(false);
    // WHEN it is killed with no chance to stop anything
    starter.kill('SIGKILL');
    // THEN the JVM goes too, and its port is free
    expect(await eventually(() => refuses(endpoint), (refused) => refused)).toBe(true);
  });

  it('says in one line that Java is missing, instead of a spawn error', async () => {
    // GIVEN a PATH with node and no java (the assembly is current: nothing is synthesized)
    const bin = join(scratch, 'bin-without-java');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    const result = await spawnMsg(['local', '--ports', '0', '--state-dir', withExampleAssembly(join(scratch, 'no-java'))], { env: { PATH: bin } });
    expectUserError(result, 'LOCAL_CLOUD_FAILED', 3);
    expect(result.stderr).toContain('DynamoDB Local needs Java 17 or newer, and there is no java on the PATH');
  });

  it('serves on the ports it is given, and says so in one line when one is taken', async () => {
    // GIVEN the port asked for the SQS emulator is held by something else
    const holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as AddressInfo).port;
    try {
      const result = await spawnMsg(['local', '--ports', `${taken},0,0`, '--state-dir', withExampleAssembly(join(scratch, 'taken'))]);
      expectUserError(result, 'LOCAL_CLOUD_FAILED', 3);
      expect(result.stderr).toContain(`port ${taken} for the SQS emulator is in use`);
    } finally {
      holder.close();
    }
  });
});

/** Whether nothing listens at an endpoint any more. */
function refuses(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('CLI: dead letters', () => {
  it('peeks, redrives and purges, keeping the reason and the correlation id', async () => {
    const correlationId = randomUUID();
    await client.sqs.send(
      new SendMessageCommand({
        QueueUrl: client.output(OutputKey.queueUrl('orders')),
        MessageBody: '{"orderId": "broken"',
        MessageAttributes: { [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId } },
      }),
    );
    await expect(client.awaitReply(correlationId, { maxWaitTime: 60 })).rejects.toThrow(/dead-lettered: invalid JSON/);

    const peeked = await msg(['dlq', 'peek', 'orders', '--max', '50', '--json']);
    expect(peeked.code).toBe(0);
    expect(peeked.json()).toEqual(expect.arrayContaining([expect.objectContaining({ correlationId, attempts: 1, reason: expect.stringMatching(/^invalid JSON/) })]));

    const redriven = await msg(['dlq', 'redrive', 'orders', '--json']);
    expect(redriven.code).toBe(0);
    expect(redriven.json()).toMatchObject({ moved: expect.any(Number), failed: 0, mechanism: 'receive-send-delete' });
    expect(redriven.json().moved).toBeGreaterThanOrEqual(1);

    // Still invalid, so the consumer dead-letters it again: with the same correlation id and a new attempt.
    const letters = await eventually(async () => (await msg(['dlq', 'peek', 'orders', '--max', '50', '--json'])).json() as { correlationId?: string }[], (found) => found.some((letter) => letter.correlationId === correlationId));
    expect(letters.find((letter) => letter.correlationId === correlationId)).toMatchObject({ correlationId, reason: expect.stringMatching(/^invalid JSON/) });

    expectUserError((await msg(['dlq', 'purge', 'orders'])), 'INVALID_ARGUMENT', 2);
    const purged = await msg(['dlq', 'purge', 'orders', '--yes', '--json']);
    expect(purged.code).toBe(0);
    expect(purged.json().purged).toBeGreaterThanOrEqual(1);
    expect((await msg(['dlq', 'peek', 'orders', '--json'])).json()).toStrictEqual([]);
  });

  it('prints every byte of a large answer through a pipe before it exits', async () => {
    // GIVEN dead letters that together are far more than a pipe holds at once (64 KiB)
    const bodies = [1, 2, 3].map((index) => JSON.stringify({ index, padding: 'x'.repeat(200_000) }));
    for (const body of bodies) await client.sqs.send(new SendMessageCommand({ QueueUrl: client.output(OutputKey.deadLetterQueueUrl('orders')), MessageBody: body }));
    // WHEN a process of its own prints them into a pipe
    const result = await spawnMsg(['dlq', 'peek', 'orders', '--max', '50', '--json']);
    // THEN the answer arrived whole
    expect(result.code).toBe(0);
    // (a letter redriven above may be dead-lettered again meanwhile: only these three are this test's)
    const printed = (result.json() as { body: string }[]).map((letter) => letter.body);
    expect(bodies.filter((body) => !printed.includes(body))).toStrictEqual([]);
  });
});


describe('CLI: bad input gets one line and a non-zero exit', () => {
  const bigOrder = () => {
    const file = join(scratch, 'big.json');
    writeFileSync(file, JSON.stringify({ orderId: 'o', customerId: 'c', items: [{ sku: 'x'.repeat(1_100_000), quantity: 1 }] }));
    return file;
  };

  it.each([
    ['an unknown channel', ['send', 'invoices', '{}'], 'UNKNOWN_CHANNEL', 2],
    ['invalid JSON', ['send', 'orders', '{"orderId":'], 'INVALID_JSON', 2],
    ['a payload failing the schema', ['send', 'orders', '{"orderId":"o"}'], 'SCHEMA_VIOLATION', 2],
    ['send on a request-response channel', ['send', 'quotes', '{"sku":"tea","quantity":1}'], 'WRONG_POLICY', 2],
    ['request on a queue channel', ['request', 'orders', '{}'], 'WRONG_POLICY', 2],
    ['an unknown command', ['frobnicate'], 'INVALID_ARGUMENT', 2],
    ['an unknown option', ['send', 'orders', '{}', '--bogus'], 'INVALID_ARGUMENT', 2],
    ['a missing payload', ['send', 'orders'], 'INVALID_ARGUMENT', 2],
    ['a stack that is not deployed', ['channels', '--stack', 'Nope'], 'STACK_NOT_DEPLOYED', 3],
    ['a local cloud that is not running', ['channels', '--state-dir', '/nonexistent'], 'LOCAL_CLOUD_NOT_RUNNING', 3],
  ])('rejects %s', async (_case, args, code, exitCode) => {
    expectUserError(await msg(args as string[]), code as string, exitCode as number);
  });

  // Each of these would fail on discovery (no local cloud at this state folder) if the input were not checked first.
  it.each([
    ['an unknown channel', ['send', 'invoices', '{}'], 'UNKNOWN_CHANNEL'],
    ['a payload failing the schema', ['send', 'orders', '{"orderId":"o"}'], 'SCHEMA_VIOLATION'],
    ['send --wait on a fire-and-forget channel', ['send', 'presence', '{}', '--wait'], 'WRONG_POLICY'],
    ['a DLQ command on a channel without one', ['dlq', 'peek', 'presence'], 'WRONG_POLICY'],
    ['a bad number', ['request', 'quotes', '{"sku":"tea","quantity":1}', '--deadline', 'soon'], 'INVALID_ARGUMENT'],
  ])('rejects %s offline, before looking for the application', async (_case, args, code) => {
    expectUserError(await msg([...(args as string[]), '--state-dir', join(scratch, 'no-cloud')]), code as string, 2);
  });

  it('tells a stopped local cloud from a running one by the process that wrote its files', async () => {
    const stale = join(scratch, 'stale');
    mkdirSync(stale, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(stale, 'outputs.json'), JSON.stringify(cloud.outputs));
    writeFileSync(join(stale, 'endpoints.json'), JSON.stringify({ ...cloud.endpoints, pid: dead }));
    expectUserError(await msg(['stats', '--state-dir', stale]), 'LOCAL_CLOUD_NOT_RUNNING', 3);
  });

  it('exits with the status of its kind and one line on stderr, as a process of its own', async () => {
    expectUserError(await spawnMsg(['send', 'invoices', '{}']), 'UNKNOWN_CHANNEL', 2);
  });

  it('prints errors as one line of JSON under --json', async () => {
    const result = await msg(['send', 'invoices', '{}', '--json']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(JSON.parse(result.stderr)).toStrictEqual({ error: { code: 'UNKNOWN_CHANNEL', message: expect.stringContaining('invoices') } });
  });

  it('rejects a body over the SQS size limit before sending', async () => {
    expectUserError((await msg(['send', 'orders', '--file', bigOrder()])), 'MESSAGE_TOO_LARGE', 2);
  });

  it('says which environment problem it met: no region, nothing listening', async () => {
    const noConfig = { HOME: scratch, AWS_CONFIG_FILE: join(scratch, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'none'), AWS_EC2_METADATA_DISABLED: 'true' };
    const env = { ...noConfig, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' };
    // In processes of their own: the AWS SDK reads the region and credentials from the process's environment.
    expectUserError(await spawnMsg(['stats', '--target', 'aws'], { env }), 'MISSING_REGION', 3);
    expectUserError(await spawnMsg(['stats', '--target', 'localstack', '--endpoint', 'http://127.0.0.1:9']), 'ENDPOINT_UNREACHABLE', 3);
  });

  it('rejects missing AWS credentials without touching the network', async () => {
    const env = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', HOME: scratch, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: join(scratch, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'none') };
    expectUserError((await spawnMsg(['channels', '--target', 'aws', '--region', 'us-east-1'], { env })), 'MISSING_CREDENTIALS', 3);
  });
});
