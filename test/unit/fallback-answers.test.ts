import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { responder } from '../../functions/runtime/index.ts';
import { requestWithFallback } from '../../lib/client/index.ts';
import { AskedAs, defineChannel } from '../../lib/policy/index.ts';

// The fallback alarm counts the answers callers surely got from the fallback: after a failover, not on a hedge, whose
// answer the caller throws away when the primary answers first. The SDK says which it is; the fallback counts by it.

const quotes = defineChannel('quotes', { policy: { kind: 'request-response' }, schema: z.object({}), replySchema: z.object({ by: z.string() }) });

/** A Lambda client that answers from a script, recording the client context of every call (pure control flow). */
function scriptedLambda(answer: (functionName: string) => Promise<unknown>) {
  const contexts: Record<string, unknown> = {};
  const lambda = {
    send: async (command: { input: { FunctionName: string; ClientContext?: string } }) => {
      const { FunctionName, ClientContext } = command.input;
      contexts[FunctionName] = ClientContext === undefined ? undefined : JSON.parse(Buffer.from(ClientContext, 'base64').toString());
      const payload = await answer(FunctionName);
      return payload instanceof Error ? { FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: payload.message })) } : { Payload: Buffer.from(JSON.stringify(payload)) };
    },
  } as unknown as LambdaClient;
  return { lambda, contexts };
}

const plan = { channel: 'quotes', body: '{}', primary: 'primary', fallback: 'fallback', deadlineMs: 5000, failoverAfterFraction: 0.6 };

describe('Function: requestWithFallback tells the fallback why it is asked', () => {
  it('as a failover when the primary failed, and not at all to the primary', async () => {
    const { lambda, contexts } = scriptedLambda(async (name) => (name === 'primary' ? new Error('down') : { by: 'fallback' }));
    await requestWithFallback(lambda, plan);
    expect(contexts).toStrictEqual({ primary: undefined, fallback: { custom: { [AskedAs.key]: 'failover' } } });
  });

  it('as a hedge when it is asked alongside a primary still running', async () => {
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const { lambda, contexts } = scriptedLambda(async (name) => (name === 'primary' ? slow.then(() => ({ by: 'primary' })) : { by: 'fallback' }));
    await requestWithFallback(lambda, { ...plan, hedgeAfterFraction: 0.01 });
    release();
    expect(contexts).toStrictEqual({ primary: undefined, fallback: { custom: { [AskedAs.key]: 'hedge' } } });
  });
});

describe('Function: responder counts a fallback answer by why it was asked', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['failover', 'failoverAnswers'],
    ['hedge', 'hedgeAnswers'],
  ])('counts an answer to a %s as %s', async (askedAs, metric) => {
    vi.stubEnv('METRICS_DISABLED', 'false');
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    const fallback = responder({ channel: quotes, role: 'fallback', handle: async () => ({ by: 'fallback' }) });
    await fallback({}, { clientContext: { custom: { [AskedAs.key]: askedAs } } } as unknown as Context);
    const documents = written.flatMap((chunk) => chunk.trim().split('\n')).map((line) => JSON.parse(line)).filter((line) => '_aws' in line);
    expect(documents).toStrictEqual([expect.objectContaining({ channel: 'quotes', [metric]: 1 })]);
  });
});
