/**
 * One warm Lambda instance: loads the function's bundle once and runs one invocation at a time, so module
 * state survives between invocations of the same instance exactly as in Lambda. Runs inside a worker thread,
 * with the function's environment as its own process.env. Between invocations it is frozen, as Lambda freezes an
 * instance once its handler has answered: work a handler left running (an unawaited write, a timer) does not go on
 * unseen here to succeed where in AWS it stalls until some later invocation, or never runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

interface InstanceData {
  readonly modulePath: string;
  readonly exportName: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly memorySizeMb: number;
  /** 0 while the instance may sleep; the parent sets 1 and notifies to hand it an invocation. */
  readonly gate: Int32Array;
  /** Whether the instance records its spans and posts them to the parent. */
  readonly collectSpans: boolean;
}

interface Invocation {
  readonly requestId: string;
  readonly event: unknown;
  /** The function's timeout, which runs from the handler's start: INIT is outside it. */
  readonly timeoutMs: number;
  /** When the parent cuts a warm instance's invocation off; a cold one's deadline starts with its handler. */
  readonly deadline?: number;
  /** A synchronous caller's X-Amz-Client-Context, parsed. */
  readonly clientContext?: unknown;
}

const { modulePath, exportName, functionName, functionArn, memorySizeMb, gate, collectSpans } = workerData as InstanceData;

// The tracer provider is the emulator's, as an ADOT layer's would be the platform's: loaded before the clock of the
// function's INIT starts, so that the INIT the local cloud reports is the bundle's alone.
if (collectSpans) {
  const { collectSpans: register } = await import('./span-collector.ts');
  register(functionName, (spans) => parentPort!.postMessage({ spans }));
}

/** Blocks the whole thread, its timers and pending promises with it, until the parent hands over an invocation. */
function freezeUntilInvoked(): void {
  Atomics.wait(gate, 0, 0);
}
const initStarted = performance.now();
/** How long loading the bundle took (Lambda's INIT), reported once, with the instance's first invocation. */
let initToReport = 0;
const loaded = import(pathToFileURL(modulePath).href)
  .then((module: Record<string, unknown>) => {
    initToReport = performance.now() - initStarted;
    const handler = module[exportName];
    if (typeof handler !== 'function') throw new Error(`${modulePath} exports no function named ${exportName}`);
    return handler as (event: unknown, context: unknown) => Promise<unknown>;
  })
  // INIT is over, loaded or failed: the parent starts the timeout of the invocation that waits for it. Posted in the
  // chain, so before any invocation's result.
  .finally(() => parentPort!.postMessage({ ready: true }));
// A failed INIT is reported by the invocation that awaits it.
loaded.catch(() => {});

/** Invocations begun in this instance: the freeze after one must not fall into the next. */
let invocationsBegun = 0;

parentPort!.on('message', async ({ requestId, event, timeoutMs, deadline: parentDeadline, clientContext }: Invocation) => {
  const invocation = ++invocationsBegun;
  // Taken: the freeze after this invocation waits for the next one.
  Atomics.store(gate, 0, 0);
  let deadline = 0;
  const context = {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: String(memorySizeMb),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    clientContext,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let started = performance.now();
  const timing = () => {
    const reported = { durationMs: performance.now() - started, initMs: initToReport };
    initToReport = 0;
    return reported;
  };
  let answer: object;
  try {
    const handler = await loaded;
    // The handler's time starts once INIT is over: an invocation that arrived during it waited, billed as INIT.
    started = performance.now();
    deadline = parentDeadline ?? Date.now() + timeoutMs;
    const result = await handler(event, context);
    answer = { requestId, ok: true, result: result === undefined ? null : result, ...timing() };
  } catch (error) {
    answer = { requestId, ok: false, error: errorOf(error), ...timing() };
  }
  try {
    parentPort!.postMessage(answer);
  } catch (error) {
    // A result that cannot be cloned (a function, say): the invocation fails, as Lambda fails one it cannot serialize.
    parentPort!.postMessage({ ...answer, ok: false, result: undefined, error: errorOf(error) });
  }
  // After the answer, so that the caller does not wait on the logs' round trip through the parent.
  await flushLogs();
  // The flush turns the event loop, which may have let the next invocation in: this instance is no longer idle.
  if (invocationsBegun === invocation) freezeUntilInvoked();
});

function errorOf(error: unknown) {
  const failure = error instanceof Error ? error : new Error(String(error));
  return { errorType: failure.name, errorMessage: failure.message, trace: (failure.stack ?? '').split('\n') };
}

/** A worker's console writes reach the parent in turns this thread must be awake for: done before it freezes. */
async function flushLogs(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => (stream.writableLength > 0 ? new Promise<void>((resolve) => stream.write('', () => resolve())) : undefined)),
  );
}
