import { parseArgs } from 'node:util';
import { ClientError, createClient, InvalidArgument, translateAwsError, type Target } from '../client/index.ts';
import { loadCatalog, localStateDir, ownPackage } from './app.ts';
import { COMMANDS, GLOBAL_OPTIONS, help, print, type CliIo, type Values } from './commands.ts';

export type { CliIo } from './commands.ts';

/** The process's own streams and environment: what bin/msg.ts runs msg with. */
export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/**
 * msg: send, ask, check and repair messages on a deployed (or local) application. The commands are data
 * (commands.ts); each checks its input against the application's channel catalog before any endpoint is looked up,
 * then calls the SDK and prints. Errors a user can cause print one line with a code; stack traces appear only with
 * --debug. Answers the exit status: 0, or the error's kind (2 bad input, 3 environment, 4 a message that failed).
 */
export async function runMsg(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  return run(argv, io).catch((error: unknown) => fail(error, argv, io));
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const two = `${argv[0]} ${argv[1]}`;
  const command = COMMANDS.find((candidate) => candidate.name === two) ?? COMMANDS.find((candidate) => candidate.name === argv[0]);
  const rest = command ? argv.slice(command.name.split(' ').length) : [...argv];
  const { values, positionals } = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command?.options }, allowPositionals: true, strict: true });
  if (values.version) {
    io.stdout.write(`${ownPackage().version}\n`);
    return 0;
  }
  if (values.help || !command) {
    if (!command && argv.length > 0 && !values.help) throw new InvalidArgument(`unknown command "${argv[0]}"; run msg --help`);
    io.stdout.write(`${help(command)}\n`);
    return 0;
  }
  const target = values.target as Target;
  if (!['local', 'localstack', 'aws'].includes(target)) throw new InvalidArgument(`--target must be local, localstack or aws, not ${target}`);
  if (command.serve) {
    await command.serve(values as Values, positionals, io);
    return 0;
  }
  const { channels, topics } = await loadCatalog((values.channels as string | undefined) ?? io.env.MSG_CHANNELS);
  const perform = await command.parse!(channels, positionals, values as Values, io, topics);
  const client = await createClient({
    channels,
    topics,
    target,
    stackName: values.stack as string,
    region: values.region as string | undefined,
    endpoint: values.endpoint as string | undefined,
    localStateDir: localStateDir(values['state-dir'] as string | undefined, io.env),
  });
  try {
    const result = await perform(client).catch((error: unknown) => {
      throw translateAwsError(error, target);
    });
    const rendered = values.json ? undefined : command.render?.(result);
    if (rendered !== undefined) io.stdout.write(rendered);
    else print(result, Boolean(values.json), io);
    return command.exitStatus?.(result) ?? 0;
  } finally {
    // Awaited: msg exits when it returns, which would cut off the deletion of a reply queue made for --wait. One that
    // cannot be deleted is swept later by the stack's next reply queue.
    await client.close().catch(() => undefined);
  }
}

/** One line on stderr (JSON under --json) and the exit status of the error's kind. */
function fail(error: unknown, argv: readonly string[], io: CliIo): number {
  const debug = argv.includes('--debug');
  const parseError = typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('ERR_PARSE_ARGS');
  // parseArgs' own errors (unknown option, missing value) are user mistakes too.
  const [code, exitCode] = error instanceof ClientError ? [error.code, error.exitCode] : parseError ? ['INVALID_ARGUMENT', 2] : ['INTERNAL', 1];
  const message = (error as Error).message ?? String(error);
  if (argv.includes('--json')) io.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else io.stderr.write(`msg: ${message} [${code}]${code === 'INTERNAL' && !debug ? ' (run with --debug for details)' : ''}\n`);
  if (debug && error instanceof Error) io.stderr.write(`${error.stack ?? ''}${error.cause ? `\ncause: ${(error.cause as Error).stack ?? String(error.cause)}` : ''}\n`);
  return exitCode;
}
