import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { AskedAs, check, type Schema } from '../policy/index.ts';
import { DeadlineExceeded, NoAnswer, type ResponderAttempt } from './errors.ts';

export interface RequestOptions {
  /** Gives up on the request: every call still running is aborted and the promise rejects with the signal's reason. */
  readonly abortSignal?: AbortSignal;
  /** How long to wait in all. @default - the channel policy's deadlineMs */
  readonly deadlineMs?: number;
  /** Also ask the fallback once the primary has not answered within this share of the deadline; the first answer wins. @default - the policy's */
  readonly hedgeAfterFraction?: number;
  /**
   * Without hedging, the share of the deadline the primary gets before it is abandoned for the fallback, so a
   * slow primary still leaves the fallback time to answer. @default 0.6
   */
  readonly failoverAfterFraction?: number;
}

export interface Answer<T> {
  readonly answer: T;
  readonly responder: 'primary' | 'fallback';
  readonly elapsedMs: number;
}

export interface RequestPlan {
  readonly channel: string;
  readonly body: string;
  readonly primary: string;
  readonly fallback?: string;
  readonly deadlineMs: number;
  readonly hedgeAfterFraction?: number;
  readonly failoverAfterFraction: number;
  readonly replySchema?: Schema;
  readonly abortSignal?: AbortSignal;
}

/**
 * Asks the primary, and the fallback when the primary fails (a function error, a throttle) or is too slow,
 * within one deadline the caller's side enforces. With hedging the fallback is asked alongside a slow primary
 * and whichever answers first wins. Every call still running when the outcome is known is aborted.
 */
export function requestWithFallback<T>(lambda: LambdaClient, plan: RequestPlan): Promise<Answer<T>> {
  const started = performance.now();
  const attempts: ResponderAttempt[] = [];
  const calls = new Map<'primary' | 'fallback', AbortController>();
  return new Promise<Answer<T>>((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      plan.abortSignal?.removeEventListener('abort', abort);
      for (const controller of calls.values()) controller.abort();
      outcome();
    };
    // The fallback is told why it is asked, and counts its answers by it: its alarm counts the answers of a failover, not
    // those of a hedge the caller may have thrown away.
    const ask = (responder: 'primary' | 'fallback', askedAs?: (typeof AskedAs)['failover' | 'hedge']) => {
      const functionName = responder === 'primary' ? plan.primary : plan.fallback;
      if (!functionName || calls.has(responder) || settled) return;
      const controller = new AbortController();
      calls.set(responder, controller);
      invokeResponder<T>(lambda, functionName, plan, controller.signal, askedAs).then(
        (answer) => settle(() => resolve({ answer, responder, elapsedMs: Math.round(performance.now() - started) })),
        (error: Error) => {
          if (settled) return;
          attempts.push({ responder, outcome: controller.signal.aborted ? 'abandoned as too slow' : error.message });
          calls.get(responder)!.abort();
          if (responder === 'primary') ask('fallback', AskedAs.failover);
          const allDone = [...calls.keys()].every((name) => attempts.some((attempt) => attempt.responder === name));
          if (allDone && (calls.has('fallback') || !plan.fallback)) settle(() => reject(new NoAnswer(plan.channel, attempts)));
        },
      );
    };
    timers.push(
      setTimeout(() => {
        const pending = [...calls.keys()].filter((name) => !attempts.some((attempt) => attempt.responder === name));
        settle(() => reject(new DeadlineExceeded(plan.channel, plan.deadlineMs, [...attempts, ...pending.map((responder) => ({ responder, outcome: 'still running' }))])));
      }, plan.deadlineMs),
    );
    const abort = () => settle(() => reject(plan.abortSignal!.reason));
    if (plan.abortSignal?.aborted) return abort();
    plan.abortSignal?.addEventListener('abort', abort, { once: true });
    if (plan.fallback) {
      if (plan.hedgeAfterFraction !== undefined) timers.push(setTimeout(() => ask('fallback', AskedAs.hedge), plan.hedgeAfterFraction * plan.deadlineMs));
      else timers.push(setTimeout(() => calls.get('primary')?.abort(), plan.failoverAfterFraction * plan.deadlineMs));
    }
    ask('primary');
  });
}

async function invokeResponder<T>(lambda: LambdaClient, functionName: string, plan: RequestPlan, signal: AbortSignal, askedAs: string | undefined): Promise<T> {
  let response;
  try {
    const clientContext = askedAs === undefined ? undefined : Buffer.from(JSON.stringify({ custom: { [AskedAs.key]: askedAs } })).toString('base64');
    response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(plan.body), ClientContext: clientContext }), { abortSignal: signal });
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TooManyRequestsException') throw new Error('throttled (429)');
    if (signal.aborted) throw new Error('aborted');
    throw new Error(`${name}: ${(error as Error).message}`);
  }
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : 'null';
  if (response.FunctionError) {
    const detail = safeJson(text) as { errorType?: string; errorMessage?: string } | undefined;
    throw new Error(`function error: ${detail?.errorType ?? response.FunctionError}: ${detail?.errorMessage ?? text}`);
  }
  const answer = safeJson(text);
  if (plan.replySchema) {
    const checked = check(plan.replySchema, answer);
    if (!checked.success) throw new Error(`answer broke the reply schema: ${checked.issues}`);
    return checked.data as T;
  }
  return answer as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
