/**
 * One warm Lambda instance: loads the function's bundle once and runs one invocation at a time, so module
 * state survives between invocations of the same instance exactly as in Lambda. Runs inside a worker thread,
 * with the function's environment as its own process.env.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

interface InstanceData {
  readonly modulePath: string;
  readonly exportName: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly memorySizeMb: number;
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

const { modulePath, exportName, functionName, functionArn, memorySizeMb } = workerData as InstanceData;
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

parentPort!.on('message', async ({ requestId, event, timeoutMs, deadline: parentDeadline, clientContext }: Invocation) => {
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
  try {
    const handler = await loaded;
    // The handler's time starts once INIT is over: an invocation that arrived during it waited, billed as INIT.
    started = performance.now();
    deadline = parentDeadline ?? Date.now() + timeoutMs;
    const result = await handler(event, context);
    parentPort!.postMessage({ requestId, ok: true, result: result === undefined ? null : result, ...timing() });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    parentPort!.postMessage({
      requestId,
      ok: false,
      error: { errorType: failure.name, errorMessage: failure.message, trace: (failure.stack ?? '').split('\n') },
      ...timing(),
    });
  }
});
