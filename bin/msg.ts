#!/usr/bin/env -S node --import tsx
/**
 * msg: send, ask, check and repair messages on a deployed (or local) application. The commands are data
 * (name, usage, options, run); each parses its input, calls the SDK and prints. Errors a user can cause print
 * one line and exit non-zero; stack traces appear only with --debug.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  ClientError,
  createClient,
  InvalidArgument,
  parseJson,
  peekDeadLetters,
  purgeDeadLetters,
  redriveDeadLetters,
  type MessagingClient,
  type RedriveResult,
  type Target,
} from '../lib/client/index.ts';
import { OutputKey } from '../lib/policy/index.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly options?: Options;
  readonly run: (client: MessagingClient, args: string[], values: Values) => Promise<unknown>;
  /** The exit status for a result that is printed but is not a full success. @default - 0 */
  exitStatus?(result: unknown): number;
}

const GLOBAL_OPTIONS: Options = {
  target: { type: 'string', default: 'local' },
  stack: { type: 'string', default: 'DeliveryPolicies' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

const PAYLOAD_OPTIONS: Options = { file: { type: 'string', short: 'f' } };

/** The payload from the argument, --file, or standard input ("-"). */
function readPayload(args: string[], values: Values): unknown {
  if (typeof values.file === 'string') {
    let text: string;
    try {
      text = readFileSync(values.file, 'utf8');
    } catch {
      throw new InvalidArgument(`cannot read ${values.file}`);
    }
    return parseJson(text, values.file);
  }
  const [text] = args;
  if (text === undefined) throw new InvalidArgument('give the payload as JSON, with --file FILE, or "-" to read standard input');
  if (text === '-') return parseJson(readFileSync(0, 'utf8'), 'standard input');
  return parseJson(text, 'the payload');
}

function need(args: string[], index: number, what: string): string {
  const value = args[index];
  if (!value) throw new InvalidArgument(`missing ${what}`);
  return value;
}

function numberOption(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new InvalidArgument(`--${name} must be a number, not ${String(raw)}`);
  return value;
}

const COMMANDS: readonly Command[] = [
  {
    name: 'channels',
    usage: 'channels',
    summary: 'list the channels, their policies and endpoints',
    run: async (client) =>
      Object.values(client.channels).map((channel) => ({
        name: channel.name,
        policy: channel.policy.kind,
        endpoints: Object.fromEntries(
          Object.entries(client.discovered.outputs).filter(([key]) => key.startsWith(channel.name) && key !== OutputKey.stateTableName),
        ),
      })),
  },
  {
    name: 'send',
    usage: 'send <channel> [json | --file FILE | -] [--correlation-id ID] [--group ID]',
    summary: 'send to a guaranteed or fire-and-forget channel; prints the acknowledgement',
    options: { ...PAYLOAD_OPTIONS, 'correlation-id': { type: 'string' }, group: { type: 'string' } },
    run: (client, args, values) =>
      client.send(need(args, 0, 'the channel'), readPayload(args.slice(1), values), {
        correlationId: values['correlation-id'] as string | undefined,
        groupId: values.group as string | undefined,
      }),
  },
  {
    name: 'request',
    usage: 'request <channel> [json | --file FILE | -] [--deadline MS] [--hedge FRACTION]',
    summary: 'ask a request-response channel and wait for the answer within the deadline',
    options: { ...PAYLOAD_OPTIONS, deadline: { type: 'string' }, hedge: { type: 'string' } },
    run: (client, args, values) =>
      client.request(need(args, 0, 'the channel'), readPayload(args.slice(1), values), {
        deadlineMs: numberOption(values, 'deadline'),
        hedgeAfterFraction: numberOption(values, 'hedge'),
      }),
  },
  {
    name: 'status',
    usage: 'status <correlationId>',
    summary: "a message's lifecycle: queued, in-progress, retrying, succeeded or dead-lettered (with the reason)",
    run: (client, args) => client.status(need(args, 0, 'the correlation id')),
  },
  {
    name: 'await',
    usage: 'await <correlationId> [--timeout MS]',
    summary: "wait for a guaranteed message's reply",
    options: { timeout: { type: 'string' } },
    run: (client, args, values) => client.awaitReply(need(args, 0, 'the correlation id'), { timeoutMs: numberOption(values, 'timeout') }),
  },
  {
    name: 'dlq peek',
    usage: 'dlq peek <channel> [--max N]',
    summary: 'show dead letters with their reasons, without consuming them',
    options: { max: { type: 'string' } },
    run: (client, args, values) => peekDeadLetters(client, need(args, 0, 'the channel'), numberOption(values, 'max') ?? 10),
  },
  {
    name: 'dlq redrive',
    usage: 'dlq redrive <channel>',
    summary: 'move the dead letters there at the start back to their queue; exits 4 if any could not be moved',
    run: async (client, args) => {
      const result = await redriveDeadLetters(client, need(args, 0, 'the channel'), (moved) => process.stderr.write(`\rmoved ${moved}`));
      process.stderr.write('\n');
      if (result.remaining > 0) {
        process.stderr.write(`${result.remaining} dead letters are still in the DLQ (failed to move, or dead-lettered during the redrive); redrive again for them\n`);
      }
      return result;
    },
    exitStatus: (result: RedriveResult) => (result.failed > 0 ? 4 : 0),
  },
  {
    name: 'dlq purge',
    usage: 'dlq purge <channel> [--yes]',
    summary: 'delete every dead letter (asks first unless --yes)',
    options: { yes: { type: 'boolean', default: false } },
    run: async (client, args, values) => {
      const channel = need(args, 0, 'the channel');
      client.channel(channel);
      if (!values.yes) {
        if (!process.stdin.isTTY) throw new InvalidArgument('purging deletes messages for good: confirm with --yes (no terminal to ask on)');
        const prompt = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await prompt.question(`Delete every dead letter of ${channel}? Type the channel name to confirm: `);
        prompt.close();
        if (answer.trim() !== channel) throw new InvalidArgument('not confirmed; nothing was deleted');
      }
      return { purged: await purgeDeadLetters(client, channel) };
    },
  },
];

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.usage.length));
  return [
    'usage: msg <command> [options]',
    '',
    ...COMMANDS.map((command) => `  ${command.usage.padEnd(width)}  ${command.summary}`),
    '',
    'options: --target local|localstack|aws (default local)  --stack NAME  --region R  --endpoint URL',
    '         --state-dir DIR (the local cloud\'s)  --json  --debug  --help',
  ].join('\n');
}

/** --json prints one line for scripts; otherwise the same data, indented for people. */
function print(result: unknown, json: boolean): void {
  console.log(JSON.stringify(result, null, json ? undefined : 2));
}

async function main(argv: string[]): Promise<number> {
  const two = `${argv[0]} ${argv[1]}`;
  const command = COMMANDS.find((candidate) => candidate.name === two) ?? COMMANDS.find((candidate) => candidate.name === argv[0]);
  const rest = command ? argv.slice(command.name.split(' ').length) : argv;
  const { values, positionals } = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command?.options }, allowPositionals: true, strict: true });
  if (values.help || !command) {
    if (!command && argv.length > 0 && !values.help) throw new InvalidArgument(`unknown command "${argv[0]}"; run msg --help`);
    console.log(help());
    return 0;
  }
  const target = values.target as Target;
  if (!['local', 'localstack', 'aws'].includes(target)) throw new InvalidArgument(`--target must be local, localstack or aws, not ${target}`);
  const client = await createClient({
    target,
    stackName: values.stack as string,
    region: values.region as string | undefined,
    endpoint: values.endpoint as string | undefined,
    localStateDir: values['state-dir'] as string | undefined,
  });
  try {
    const result = await command.run(client, positionals, values as Values);
    print(result, Boolean(values.json));
    return command.exitStatus?.(result) ?? 0;
  } finally {
    client.destroy();
  }
}

const debug = process.argv.includes('--debug');
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ClientError) {
      console.error(`msg: ${error.message} [${error.code}]`);
      if (debug) console.error(error.stack);
      process.exit(error.exitCode);
    }
    // parseArgs' own errors (unknown option, missing value) are user mistakes too.
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      console.error(`msg: ${(error as Error).message} [INVALID_ARGUMENT]`);
      process.exit(2);
    }
    console.error(`msg: ${(error as Error).message ?? String(error)}${debug ? '' : ' (run with --debug for details)'}`);
    if (debug) console.error((error as Error).stack);
    process.exit(1);
  },
);
