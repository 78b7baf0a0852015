import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { functionArn } from './intrinsics.ts';
import type { UsageMeter } from './meter.ts';
import type { CollectedSpan } from './span-collector.ts';

/** The instance's module, next to this one: TypeScript in the repository, JavaScript in the published build. */
const WORKER_MODULE = new URL(`./worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** What Lambda answers for one invocation: the handler's result, or the error as Lambda reports it. */
export type InvocationResult =
  | { readonly ok: true; readonly result: unknown; readonly requestId: string }
  | { readonly ok: false; readonly error: LambdaError; readonly requestId: string };

export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: string[];
}

/** Every instance is busy and the function may not start another: Lambda's 429. */
export class TooManyRequestsError extends Error {
  public readonly code = 'TooManyRequestsException';
  public constructor(functionName: string, limit: number) {
    super(`${functionName}: all ${limit} concurrent instances are busy (Rate Exceeded)`);
    this.name = 'TooManyRequestsError';
  }
}

export interface LocalFunctionProps {
  readonly name: string;
  readonly logicalId: string;
  /** The bundle's entry module (index.mjs / index.js) it starts with (see modulePath after replaceCode), and the export named by Handler. */
  readonly modulePath: string;
  readonly exportName: string;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly environment: Record<string, string>;
  /** The most instances that may run at once: reserved concurrency, else the local cloud's default. */
  readonly concurrencyLimit: number;
  /** Whether the instances' stdout and stderr reach this process's. */
  readonly showLogs: boolean;
  /** What the template says of it, reported by GetFunctionConfiguration: runtime, handler, architecture. */
  readonly runtime: string;
  readonly handler: string;
  readonly architecture: string;
  /** Where invocations and their billed time are counted, if anywhere. */
  readonly meter?: UsageMeter;
  /** Where the instances' finished spans go; none: the instances record no spans. */
  readonly onSpans?: (spans: readonly CollectedSpan[]) => void;
}

/** What an instance reports with each result: the handler's time and, on its first invocation, its INIT time. */
interface Timing {
  readonly durationMs?: number;
  readonly initMs?: number;
}

interface Pending {
  readonly resolve: (result: InvocationResult) => void;
  /** INIT's limit while the instance loads its bundle, then the function's timeout. */
  timer: NodeJS.Timeout;
}

/** What an instance posts: the end of its INIT, finished spans, or an invocation's result. */
type InstanceMessage = { readonly ready: true } | { readonly spans: readonly CollectedSpan[] } | (InvocationResult & Timing);

/**
 * How long INIT runs outside the function's timeout. Past it, Lambda runs INIT again within the first invocation,
 * under the function's timeout; here INIT goes on and the timeout starts.
 */
const INIT_LIMIT_MS = 10_000;

/**
 * A Lambda function run from its asset: one worker thread per instance, an instance reused while warm, a new one
 * per concurrent invocation, and an instance that runs past the timeout is terminated and its invocation fails.
 */
export class LocalFunction {
  public readonly props: LocalFunctionProps;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending & { requestId: string }>();
  #peakConcurrency = 0;
  #invocations = 0;
  readonly #killedInvocations = new Set<string>();
  #stopped = false;
  #modulePath: string;
  /** Instances started from code that has since been replaced: retired when they finish their invocation. */
  readonly #outdated = new WeakSet<Worker>();
  /** Instances whose INIT is over: their invocations' timeout runs from the start. */
  readonly #initialized = new WeakSet<Worker>();
  /** Each instance's freeze gate (see worker.ts): set to wake it for an invocation. */
  readonly #gates = new WeakMap<Worker, Int32Array>();

  public constructor(props: LocalFunctionProps) {
    this.props = props;
    this.#modulePath = props.modulePath;
  }

  /** The bundle new instances load. */
  public get modulePath(): string {
    return this.#modulePath;
  }

  /**
   * Runs new invocations on another bundle from now on, as a deploy of new code does: idle instances are retired at
   * once, busy ones once their invocation ends; the next invocations start fresh instances.
   */
  public replaceCode(modulePath: string): void {
    this.#modulePath = modulePath;
    for (const worker of this.#idle.splice(0)) void worker.terminate();
    for (const worker of this.#busy.keys()) this.#outdated.add(worker);
  }

  /** How many instances ran at once, at most, since the start: the measurement behind concurrency caps. */
  public get peakConcurrency(): number {
    return this.#peakConcurrency;
  }

  /**
   * The request ids of invocations that ended with their instance: a timeout, a crash, an exit. Whatever those
   * invocations had started and not finished was cut off there, which is what fault-injection runs reconcile against.
   */
  public get killedInvocations(): ReadonlySet<string> {
    return this.#killedInvocations;
  }

  /** How many invocations started since the start, retries included. */
  public get invocationCount(): number {
    return this.#invocations;
  }

  public get busyInstances(): number {
    return this.#busy.size;
  }

  /** @param clientContext - what a synchronous caller passed as X-Amz-Client-Context, for context.clientContext */
  public async invoke(event: unknown, clientContext?: unknown): Promise<InvocationResult> {
    if (this.#stopped) throw new Error(`${this.props.name} is stopped`);
    if (this.#idle.length === 0 && this.#busy.size >= this.props.concurrencyLimit) {
      throw new TooManyRequestsError(this.props.name, this.props.concurrencyLimit);
    }
    const worker = this.#idle.pop() ?? this.#startInstance();
    this.#invocations += 1;
    const requestId = randomUUID();
    const timeoutMs = this.props.timeoutSeconds * 1000;
    return new Promise<InvocationResult>((resolve) => {
      // As in Lambda, a cold instance's INIT does not count against the timeout, which starts when INIT ends.
      const warm = this.#initialized.has(worker);
      const timer = warm ? this.#armTimeout(worker, requestId) : setTimeout(() => this.#initDone(worker), INIT_LIMIT_MS);
      this.#busy.set(worker, { resolve, timer, requestId });
      this.#peakConcurrency = Math.max(this.#peakConcurrency, this.#busy.size);
      // A warm instance is told when this process will cut it off; a cold one counts from its handler's start,
      // just before this process hears that its INIT is over, so its deadline falls a little early, never late.
      const gate = this.#gates.get(worker)!;
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      worker.postMessage({ requestId, event, timeoutMs, clientContext, ...(warm ? { deadline: Date.now() + timeoutMs } : {}) });
    });
  }

  /** Cuts the invocation off once it has run for the function's timeout. */
  #armTimeout(worker: Worker, requestId: string): NodeJS.Timeout {
    const errorMessage = `Task timed out after ${this.props.timeoutSeconds.toFixed(2)} seconds`;
    return setTimeout(() => this.#finish(worker, { ok: false, requestId, error: { errorType: 'Sandbox.Timedout', errorMessage } }, false), this.props.timeoutSeconds * 1000);
  }

  /** The instance's INIT is over (or has run past its limit): its pending invocation now runs against the timeout. */
  #initDone(worker: Worker): void {
    if (this.#initialized.has(worker)) return;
    this.#initialized.add(worker);
    const pending = this.#busy.get(worker);
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.timer = this.#armTimeout(worker, pending.requestId);
  }

  public async stop(): Promise<void> {
    this.#stopped = true;
    const workers = [...this.#idle, ...this.#busy.keys()];
    for (const [worker, pending] of this.#busy) {
      clearTimeout(pending.timer);
      pending.resolve({ ok: false, requestId: pending.requestId, error: { errorType: 'Runtime.Shutdown', errorMessage: 'the local cloud stopped' } });
      this.#busy.delete(worker);
    }
    this.#idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  #startInstance(): Worker {
    const gate = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(WORKER_MODULE, {
      workerData: {
        gate,
        modulePath: this.#modulePath,
        exportName: this.props.exportName,
        functionName: this.props.name,
        functionArn: functionArn(this.props.name),
        memorySizeMb: this.props.memorySizeMb,
        collectSpans: this.props.onSpans !== undefined,
      },
      env: this.props.environment,
      // A plain Node.js, as in Lambda: no loader inherited from the parent (tsx, vitest), whose per-instance start-up
      // cost made cold starts 2–3 times slower. worker.ts needs only Node's own type stripping (22.18+).
      execArgv: [],
      stdout: !this.props.showLogs,
      stderr: !this.props.showLogs,
      resourceLimits: { maxOldGenerationSizeMb: this.props.memorySizeMb },
    });
    this.#gates.set(worker, gate);
    if (!this.props.showLogs) {
      worker.stdout.resume();
      worker.stderr.resume();
    }
    worker.on('message', (message: InstanceMessage) => {
      if ('ready' in message) return this.#initDone(worker);
      if ('spans' in message) return this.props.onSpans?.(message.spans);
      this.props.meter?.invocation(this.props.name, this.props.memorySizeMb, message.durationMs ?? 0, message.initMs ?? 0);
      this.#finish(worker, message, true);
    });
    // A handler that exits its process or runs out of memory ends its instance; the invocation fails as in Lambda.
    worker.on('error', (error) => this.#crashed(worker, `${error.name}: ${error.message}`));
    worker.on('exit', (code) => this.#crashed(worker, `Runtime exited with error: exit status ${code}`));
    return worker;
  }

  #finish(worker: Worker, result: InvocationResult, reusable: boolean): void {
    const pending = this.#busy.get(worker);
    if (!pending || pending.requestId !== result.requestId) return;
    clearTimeout(pending.timer);
    this.#busy.delete(worker);
    if (!reusable) {
      this.#killedInvocations.add(result.requestId);
      void worker.terminate();
    } else if (this.#stopped || this.#outdated.has(worker)) {
      void worker.terminate();
    } else {
      this.#idle.push(worker);
    }
    pending.resolve(result);
  }

  #crashed(worker: Worker, errorMessage: string): void {
    const idleIndex = this.#idle.indexOf(worker);
    if (idleIndex >= 0) this.#idle.splice(idleIndex, 1);
    const pending = this.#busy.get(worker);
    if (pending) this.#finish(worker, { ok: false, requestId: pending.requestId, error: { errorType: 'Runtime.ExitError', errorMessage } }, false);
  }
}
