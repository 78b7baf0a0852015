/**
 * msg: send, ask, check and repair messages on a deployed (or local) application. The commands are data
 * (lib/cli/commands.ts); each checks its input against the application's channel catalog before any endpoint is
 * looked up, then calls the SDK and prints. Errors a user can cause print one line with a code and exit non-zero;
 * stack traces appear only with --debug. bin/msg.js starts it.
 */
import { parseArgs } from 'node:util';
import { ClientError, createClient, InvalidArgument, translateAwsError, type Target } from '../lib/client/index.ts';
import { loadCatalog, localStateDir, ownPackage } from '../lib/cli/app.ts';
import { COMMANDS, GLOBAL_OPTIONS, help, print, type Values } from '../lib/cli/commands.ts';

async function main(argv: string[]): Promise<number> {
  const two = `${argv[0]} ${argv[1]}`;
  const command = COMMANDS.find((candidate) => candidate.name === two) ?? COMMANDS.find((candidate) => candidate.name === argv[0]);
  const rest = command ? argv.slice(command.name.split(' ').length) : argv;
  const { values, positionals } = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command?.options }, allowPositionals: true, strict: true });
  if (values.version) {
    console.log(ownPackage().version);
    return 0;
  }
  if (values.help || !command) {
    if (!command && argv.length > 0 && !values.help) throw new InvalidArgument(`unknown command "${argv[0]}"; run msg --help`);
    console.log(help(command));
    return 0;
  }
  const target = values.target as Target;
  if (!['local', 'localstack', 'aws'].includes(target)) throw new InvalidArgument(`--target must be local, localstack or aws, not ${target}`);
  if (command.serve) {
    await command.serve(values as Values, positionals);
    return 0;
  }
  const channels = await loadCatalog((values.channels as string | undefined) ?? process.env.MSG_CHANNELS);
  const run = command.parse!(channels, positionals, values as Values);
  const client = await createClient({
    channels,
    target,
    stackName: values.stack as string,
    region: values.region as string | undefined,
    endpoint: values.endpoint as string | undefined,
    localStateDir: localStateDir(values['state-dir'] as string | undefined),
  });
  try {
    const result = await run(client).catch((error: unknown) => {
      throw translateAwsError(error, target);
    });
    print(result, Boolean(values.json));
    return command.exitStatus?.(result) ?? 0;
  } finally {
    client.destroy();
  }
}

/** One line on stderr (JSON under --json) and the exit status of the error's kind. */
function fail(error: unknown): number {
  const parseError = typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('ERR_PARSE_ARGS');
  // parseArgs' own errors (unknown option, missing value) are user mistakes too.
  const [code, exitCode] = error instanceof ClientError ? [error.code, error.exitCode] : parseError ? ['INVALID_ARGUMENT', 2] : ['INTERNAL', 1];
  const message = (error as Error).message ?? String(error);
  if (process.argv.includes('--json')) console.error(JSON.stringify({ error: { code, message } }));
  else console.error(`msg: ${message} [${code}]${code === 'INTERNAL' && !debug ? ' (run with --debug for details)' : ''}`);
  if (debug) console.error(error instanceof Error ? (error.stack ?? '') + (error.cause ? `\ncause: ${(error.cause as Error).stack ?? String(error.cause)}` : '') : '');
  return exitCode;
}

const debug = process.argv.includes('--debug');
process.exit(await main(process.argv.slice(2)).catch(fail));
