import { readFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { createInterface } from 'node:readline/promises';
import type { ParseArgsOptionDescriptor } from 'node:util';
import {
  channelFor,
  channelStats,
  encodeEvent,
  encodePayload,
  InvalidArgument,
  LocalCloudFailed,
  parseJson,
  peekDeadLetters,
  purgeDeadLetters,
  queueDepth,
  redriveDeadLetters,
  topicFor,
  topicStats,
  previewRedrive,
  renderRedrivePreview,
  renderTrace,
  traceMessage,
  type RedrivePreview,
  type MessagingClient,
  type TraceNode,
  type RedriveResult,
} from '../client/index.ts';
import { OutputKey, type Catalog, type TopicCatalog } from '../policy/index.ts';
import { appRoot, initApp, loadCatalog, localStateDir } from './app.ts';

// msg's commands, declared as data: name, usage, options, and how each checks its input and runs.

export type Values = Record<string, string | boolean | undefined>;

/** Where msg reads and writes: the process's own streams and environment, or a test's. */
export interface CliIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}
/** What a command does once its input is checked and the application is found. */
type Run = (client: MessagingClient) => Promise<unknown>;

export interface Option extends ParseArgsOptionDescriptor {
  /** What the option's value is, for help: `--deadline MS`. */
  readonly value?: string;
  readonly help: string;
}

export interface Command {
  readonly name: string;
  /** The arguments after the command's name. */
  readonly usage: string;
  readonly summary: string;
  readonly options?: Readonly<Record<string, Option>>;
  /**
   * Checks every input against the catalog alone and returns what to do with the application: a wrong channel
   * name or payload fails here, before any endpoint is looked up, and so also offline.
   */
  parse?(channels: Catalog, args: string[], values: Values, io: CliIo, topics: TopicCatalog): Run | Promise<Run>;
  /** A command that needs neither the catalog nor a deployed application; runs instead of `parse`. */
  serve?(values: Values, args: string[], io: CliIo): Promise<void> | void;
  /** The result as a person reads it, where JSON would bury it (undefined: JSON after all); --json prints the result itself. */
  render?(result: unknown): string | undefined;
  /** The exit status for a result that is printed but is not a full success. @default - 0 */
  exitStatus?(result: unknown): number;
}

export const GLOBAL_OPTIONS: Readonly<Record<string, Option>> = {
  target: { type: 'string', default: 'local', value: 'local|localstack|aws', help: 'where the application runs (default local)' },
  stack: { type: 'string', default: 'DeliveryPolicies', value: 'NAME', help: 'its stack (default DeliveryPolicies)' },
  channels: { type: 'string', value: 'FILE', help: 'channel catalog (default $MSG_CHANNELS, else lib/channels.ts)' },
  region: { type: 'string', value: 'REGION', help: 'AWS region (default: the SDK\'s chain)' },
  endpoint: { type: 'string', value: 'URL', help: 'LocalStack (default $LOCALSTACK_ENDPOINT or http://localhost:4566)' },
  'state-dir': { type: 'string', value: 'DIR', help: 'the local cloud\'s state folder (default .local-cloud)' },
  json: { type: 'boolean', default: false, help: 'print results, and errors, as one line of JSON' },
  debug: { type: 'boolean', default: false, help: 'print stack traces' },
  help: { type: 'boolean', short: 'h', default: false, help: 'this help' },
  version: { type: 'boolean', default: false, help: 'the version of msg' },
};

const PAYLOAD_OPTIONS: Readonly<Record<string, Option>> = {
  file: { type: 'string', short: 'f', value: 'FILE', help: 'read the payload from FILE ("-": standard input)' },
};

/** The payload from the argument, --file, or standard input ("-" as either). */
async function readPayload(args: string[], values: Values, io: CliIo): Promise<unknown> {
  const source = typeof values.file === 'string' ? values.file : args[0];
  if (source === undefined) throw new InvalidArgument('give the payload as JSON, with --file FILE, or "-" to read standard input');
  if (source === '-') return parseJson(await text(io.stdin), 'standard input');
  if (source !== values.file) return parseJson(source, 'the payload');
  let contents: string;
  try {
    contents = readFileSync(source, 'utf8');
  } catch {
    throw new InvalidArgument(`cannot read ${source}`);
  }
  return parseJson(contents, source);
}

function need(args: string[], index: number, what: string): string {
  const value = args[index];
  if (!value) throw new InvalidArgument(`missing ${what}`);
  return value;
}

/** A command's correlation id argument, and the channel `--channel` narrows it to, checked against the catalog. */
function messageOn(channels: Catalog, args: string[], values: Values): { correlationId: string; channel?: string } {
  const correlationId = need(args, 0, 'the correlation id');
  return typeof values.channel === 'string' ? { correlationId, channel: channelFor(channels, values.channel).name } : { correlationId };
}

function numberOption(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgument(`--${name} must be a positive number, not ${String(raw)}`);
  return value;
}

/**
 * The ports msg local serves on unless told otherwise: each service's own customary local port (ElasticMQ's for SQS,
 * DynamoDB Local's, SAM's local Lambda, goaws' for SNS), the same on every start so that exported endpoint variables stay valid.
 */
const DEFAULT_LOCAL_PORTS = '9324,8000,3001,4100';
/** The console's port, beside them. */
const DEFAULT_CONSOLE_PORT = 9330;

export const COMMANDS: readonly Command[] = [
  {
    name: 'init',
    usage: '<dir>',
    summary: 'create a new app in <dir>: one channel per policy, handlers, tests, README',
    serve: async (values, args, io) => print(initApp(need(args, 0, 'the folder to create')), Boolean(values.json), io),
  },
  {
    name: 'local',
    usage: '',
    summary: 'run the app here: synthesize it and serve it on the local cloud until Ctrl-C',
    options: {
      logs: { type: 'boolean', default: false, help: "show the functions' logs" },
      synth: { type: 'boolean', default: false, help: 'synthesize even if the sources have not changed' },
      watch: { type: 'boolean', default: false, help: 'run changed handlers\' new code without a restart' },
      ports: { type: 'string', value: 'SQS,DYNAMODB,LAMBDA[,SNS]', help: `loopback ports (default ${DEFAULT_LOCAL_PORTS}; 0: free ones)` },
      'no-iam': { type: 'boolean', default: false, help: "do not check the functions' calls against their roles" },
      'console-port': { type: 'string', value: 'PORT', help: `the console's loopback port (default ${DEFAULT_CONSOLE_PORT}; 0: a free one)` },
      'no-console': { type: 'boolean', default: false, help: 'serve no console' },
    },
    serve: async (values, _args, io) => {
      const { serveLocalCloud } = await import('../../local/main.ts');
      const consolePort = Number(values['console-port'] ?? DEFAULT_CONSOLE_PORT);
      if (!Number.isInteger(consolePort) || consolePort < 0 || consolePort >= 65_536) throw new InvalidArgument(`--console-port takes a port, or 0 for a free one, not ${String(values['console-port'])}`);
      // The console sends and reads through the app's catalog, as msg does; checked before anything starts.
      const catalog = values['no-console'] ? undefined : await loadCatalog((values.channels as string | undefined) ?? io.env.MSG_CHANNELS);
      await serveLocalCloud({
        console: catalog && { ...catalog, port: consolePort, anyPortIfTaken: values['console-port'] === undefined },
        // The app of the nearest cdk.json, wherever in it msg was run.
        appDir: appRoot() ?? '.',
        stateDir: localStateDir(values['state-dir'] as string | undefined, io.env),
        ports: localPorts((values.ports as string | undefined) ?? DEFAULT_LOCAL_PORTS),
        showFunctionLogs: Boolean(values.logs),
        resynthesize: Boolean(values.synth),
        watch: Boolean(values.watch),
        iam: !values['no-iam'],
      }).catch((error: unknown) => {
        const lines = String((error as Error).message ?? error).split('\n').map((line) => line.trim()).filter(Boolean);
        throw new LocalCloudFailed(`the local cloud could not start: ${lines.join(' | ')}`, { cause: error });
      });
    },
  },
  {
    name: 'channels',
    usage: '',
    summary: 'list the channels, their policies and endpoints',
    parse: (channels) => async (client) =>
      Object.values(channels).map((channel) => ({
        name: channel.name,
        policy: channel.policy.kind,
        endpoints: Object.fromEntries(
          Object.entries(client.discovered.outputs).filter(([key]) => key.startsWith(channel.name) && key !== OutputKey.stateTableName),
        ),
      })),
  },
  {
    name: 'send',
    usage: '<channel> [JSON | --file FILE | -]',
    summary: 'send to a guaranteed or fire-and-forget channel; prints the acknowledgement',
    options: {
      ...PAYLOAD_OPTIONS,
      'correlation-id': { type: 'string', value: 'ID', help: 'the message\'s correlation id (default: a new UUID)' },
      group: { type: 'string', value: 'ID', help: 'its message group, on a FIFO channel' },
      wait: { type: 'boolean', default: false, help: 'then wait for its reply (guaranteed channels)' },
      'max-wait': { type: 'string', value: 'SECONDS', help: 'how long --wait waits (default 30)' },
    },
    parse: async (channels, args, values, io) => {
      const channel = channelFor(channels, need(args, 0, 'the channel'), values.wait ? 'reply' : 'send');
      const payload = await readPayload(args.slice(1), values, io);
      encodePayload(channel, payload);
      const maxWaitTime = numberOption(values, 'max-wait');
      return async (client) => {
        const acknowledgement = await client.send(channel.name, payload, {
          correlationId: values['correlation-id'] as string | undefined,
          groupId: values.group as string | undefined,
          // A reply waited for is pushed, seen at its commit, where the stack has reply queues (one deployed before
          // them has not, and is polled as it was).
          ...(values.wait && OutputKey.replyQueuePrefix in client.discovered.outputs ? { pushReply: true } : {}),
        });
        if (!values.wait) return acknowledgement;
        return { ...acknowledgement, reply: await client.awaitReply(acknowledgement, { maxWaitTime }) };
      };
    },
  },
  {
    name: 'publish',
    usage: '<topic> [JSON | --file FILE | -]',
    summary: 'publish an event to every channel subscribed to a topic; prints the acknowledgement',
    options: {
      ...PAYLOAD_OPTIONS,
      'correlation-id': { type: 'string', value: 'ID', help: "the event's key, which every subscriber dedupes on (default: a new UUID)" },
      group: { type: 'string', value: 'ID', help: 'its message group, on a FIFO topic' },
    },
    parse: async (_channels, args, values, io, topics) => {
      const topic = topicFor(topics, need(args, 0, 'the topic'));
      const event = await readPayload(args.slice(1), values, io);
      encodeEvent(topic, event);
      return (client) => client.publish(topic.name, event, { idempotencyKey: values['correlation-id'] as string | undefined, groupId: values.group as string | undefined });
    },
  },
  {
    name: 'request',
    usage: '<channel> [JSON | --file FILE | -]',
    summary: 'ask a request-response channel and wait for the answer within the deadline',
    options: {
      ...PAYLOAD_OPTIONS,
      deadline: { type: 'string', value: 'MS', help: 'the deadline (default: the channel\'s)' },
      hedge: { type: 'string', value: 'FRACTION', help: 'also ask the fallback after this fraction of it' },
    },
    parse: async (channels, args, values, io) => {
      const channel = channelFor(channels, need(args, 0, 'the channel'), 'request');
      const payload = await readPayload(args.slice(1), values, io);
      encodePayload(channel, payload);
      const options = { deadlineMs: numberOption(values, 'deadline'), hedgeAfterFraction: numberOption(values, 'hedge') };
      return (client) => client.request(channel.name, payload, options);
    },
  },
  {
    name: 'status',
    usage: '<correlationId>',
    summary: 'where a message is: succeeded, dead-lettered (why), retrying, in progress, unknown',
    options: { channel: { type: 'string', value: 'NAME', help: "only this channel's record" } },
    parse: (channels, args, values) => {
      const { correlationId, channel } = messageOn(channels, args, values);
      return (client) => client.status(correlationId, { channel });
    },
  },
  {
    name: 'trace',
    usage: '<correlationId>',
    summary: "a message's timeline, and its flow's: what each handler sent on, in turn",
    options: { channel: { type: 'string', value: 'NAME', help: "only this channel's record, and what it sent on" } },
    parse: (channels, args, values) => {
      const { correlationId, channel } = messageOn(channels, args, values);
      return (client) => traceMessage(client, correlationId, { channel });
    },
    render: (result) => renderTrace(result as TraceNode[]),
  },
  {
    name: 'await',
    usage: '<correlationId>',
    summary: "wait for a guaranteed message's reply",
    options: {
      'max-wait': { type: 'string', value: 'SECONDS', help: 'how long to wait (default 30)' },
      channel: { type: 'string', value: 'NAME', help: 'its channel (default: any channel that keeps replies)' },
    },
    parse: (channels, args, values) => {
      const correlationId = need(args, 0, 'the correlation id');
      const maxWaitTime = numberOption(values, 'max-wait');
      const channel = typeof values.channel === 'string' ? channelFor(channels, values.channel, 'reply').name : undefined;
      return (client) => client.awaitReply(correlationId, { maxWaitTime, ...(channel ? { channel } : {}) });
    },
  },
  {
    name: 'stats',
    usage: '',
    summary: 'per channel: waiting, in flight, delayed, dead letters; per topic: undelivered',
    parse: () => async (client) => [...(await channelStats(client)), ...(await topicStats(client))],
  },
  {
    name: 'dlq peek',
    usage: '<channel>',
    summary: 'show dead letters with their reasons, without consuming them',
    options: { max: { type: 'string', value: 'N', help: 'at most N (default 10)' } },
    parse: (channels, args, values) => {
      const channel = deadLetterChannel(channels, args);
      const max = numberOption(values, 'max') ?? 10;
      return (client) => peekDeadLetters(client, channel, max);
    },
  },
  {
    name: 'dlq redrive',
    usage: '<channel>',
    summary: 'move the dead letters back to their queue; exits 4 if any could not be moved',
    options: {
      'dry-run': { type: 'boolean', default: false, help: 'move nothing; say what each dead letter would do' },
      max: { type: 'string', value: 'N', help: 'with --dry-run, read at most N (default 100)' },
      only: { type: 'string', value: 'IDS', help: 'only these dead letters: message or correlation ids, comma-separated' },
      'skip-applied': { type: 'boolean', default: false, help: 'delete, not move, those whose effect is applied and sent on' },
      rate: { type: 'string', value: 'N', help: 'move at most N a second' },
    },
    parse: (channels, args, values, io) => {
      const channel = deadLetterChannel(channels, args);
      const only = typeof values.only === 'string' ? values.only.split(',').map((id) => id.trim()).filter(Boolean) : undefined;
      if (only?.length === 0) throw new InvalidArgument('--only needs at least one message or correlation id');
      if (values['dry-run']) {
        const max = numberOption(values, 'max') ?? 100;
        return (client) => previewRedrive(client, channel, max, only);
      }
      const perSecond = numberOption(values, 'rate');
      return async (client) => {
        // Progress is for a person watching; a script reads the result.
        const onProgress = io.stderr.isTTY ? await redriveProgress(client, channel, io) : undefined;
        const result = await redriveDeadLetters(client, channel, { only, skipApplied: Boolean(values['skip-applied']), perSecond, onProgress });
        if (onProgress) io.stderr.write('\n');
        if (result.failureReason) io.stderr.write(`SQS's move task stopped: ${result.failureReason}\n`);
        if (result.notFound) {
          const { policy } = channels[channel]!;
          const fifo = policy.kind === 'guaranteed' && policy.fifo;
          io.stderr.write(`not among the dead letters: ${result.notFound.join(', ')}${fifo ? " (on FIFO, name too the dead letters before them in their group)" : ''}\n`);
        }
        if (result.remaining > 0) {
          io.stderr.write(`${result.remaining} dead letters are still in the DLQ (not chosen, failed to move, or dead-lettered during the redrive)\n`);
        }
        return result;
      };
    },
    render: (result) => ('letters' in (result as object) ? renderRedrivePreview(result as RedrivePreview) : undefined),
    exitStatus: (result) => ((result as Partial<RedriveResult>).failed ? 4 : 0),
  },
  {
    name: 'dlq purge',
    usage: '<channel>',
    summary: 'delete every dead letter (asks first unless --yes)',
    options: { yes: { type: 'boolean', default: false, help: 'do not ask' } },
    parse: (channels, args, values, io) => {
      const channel = deadLetterChannel(channels, args);
      if (!values.yes && !io.stdin.isTTY) throw new InvalidArgument('purging deletes messages for good: confirm with --yes (no terminal to ask on)');
      return async (client) => {
        if (!values.yes) {
          const prompt = createInterface({ input: io.stdin, output: io.stderr });
          const answer = await prompt.question(`Delete every dead letter of ${channel}? Type the channel name to confirm: `);
          prompt.close();
          if (answer.trim() !== channel) throw new InvalidArgument('not confirmed; nothing was deleted');
        }
        return { purged: await purgeDeadLetters(client, channel) };
      };
    },
  },
];

function localPorts(text: string): { sqs: number; dynamodb: number; lambda: number; sns: number } {
  const ports = text === '0' ? [0, 0, 0, 0] : text.split(',').map(Number);
  if (ports.length < 3 || ports.length > 4 || !ports.every((port) => Number.isInteger(port) && port >= 0 && port < 65_536)) {
    throw new InvalidArgument(`--ports takes SQS,DYNAMODB,LAMBDA and optionally SNS ports (or 0 for free ones), not ${text}`);
  }
  // Three ports, as before topics: SNS takes a free one.
  const [sqs, dynamodb, lambda, sns = 0] = ports as [number, number, number, number?];
  return { sqs, dynamodb, lambda, sns };
}

function deadLetterChannel(channels: Catalog, args: string[]): string {
  return channelFor(channels, need(args, 0, 'the channel'), 'deadLetters').name;
}

async function redriveProgress(client: MessagingClient, channel: string, io: CliIo): Promise<(moved: number) => void> {
  const total = await queueDepth(client.sqs, client.output(OutputKey.deadLetterQueueUrl(channel)), ['ApproximateNumberOfMessages']);
  return (moved) => io.stderr.write(`\rmoved ${moved} of ${total}`);
}

/** Option lines for help: `  --name, -n VALUE  what it does`, aligned. */
function optionLines(options: Readonly<Record<string, Option>>): string[] {
  const left = Object.entries(options).map(([name, option]) => `  --${name}${option.short ? `, -${option.short}` : ''}${option.value ? ` ${option.value}` : ''}`);
  const width = Math.max(...left.map((text) => text.length));
  return Object.values(options).map((option, index) => `${left[index]!.padEnd(width)}  ${option.help}`);
}

export function help(command?: Command): string {
  if (command) {
    return [
      `usage: msg ${command.name}${command.usage ? ` ${command.usage}` : ''} [options]`,
      '',
      command.summary,
      ...(command.options ? ['', 'options:', ...optionLines(command.options)] : []),
      '',
      'global options:',
      ...optionLines(GLOBAL_OPTIONS),
    ].join('\n');
  }
  const width = Math.max(...COMMANDS.map((candidate) => candidate.name.length));
  return [
    'usage: msg <command> [arguments] [options]',
    '',
    'commands:',
    ...COMMANDS.map((candidate) => `  ${candidate.name.padEnd(width)}  ${candidate.summary}`),
    '',
    'global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'msg <command> --help shows a command\'s arguments and options.',
  ].join('\n');
}

/** --json prints one line for scripts; otherwise the same data, indented for people. */
export function print(result: unknown, json: boolean, io: CliIo): void {
  io.stdout.write(`${JSON.stringify(result, null, json ? undefined : 2)}\n`);
}
