import { InvokeCommand } from '@aws-sdk/client-lambda';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, DeadlineExceeded, NoAnswer, type MessagingClient } from '../../lib/client/index.ts';
import { OutputKey } from '../../lib/policy/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { synthesizeResponders } from '../fixtures/responders/app.ts';
import { flaky } from '../fixtures/responders/channel.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';

const stateDir = `.local-cloud/rr-${randomUUID().slice(0, 8)}`;
let cloud: LocalCloud;
let client: MessagingClient;

// No assertion here reads a clock. The SDK enforces the deadline itself (request rejects with DeadlineExceeded
// when it passes), so an answer is proof it came in time; and the fixture's deadline (5 s, failover at 3 s) and
// its sleeping responders (60 s) keep every outcome far from a boundary, cold instance or busy machine alike.

beforeAll(async () => {
  cloud = await startLocalCloud({ cdkOut: synthesizeResponders(`${stateDir}/cdk.out`), stateDir, sharedDynamoDb: sharedDynamoDb('request-response') });
  client = await createClient({ target: 'local', localStateDir: stateDir, stackName: 'Responders', channels: { flaky } });
  // Warm instances of each responder, as a running service has, so that no outcome below waits on a cold start: a
  // responder asked to sleep holds its instance until the function's timeout (5 s) ends it, and the tests that follow
  // within those seconds need warm ones of their own. Invoked at once, each call starts an instance of its own.
  const warm = (key: string, instances: number) =>
    Array.from({ length: instances }, () => cloud.functions.get(client.output(key))!.invoke({ primary: 'answer', fallback: 'answer' }));
  // One more than the responders asked to sleep below (four primaries, one fallback), each of which any later test
  // may find still holding its instance.
  await Promise.all([...warm(OutputKey.primaryFunctionName('flaky'), 5), ...warm(OutputKey.fallbackFunctionName('flaky'), 2)]);
});

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('Function: request with a deadline and a fallback', () => {
  it('returns the primary answer when the primary answers', async () => {
    const result = await client.request('flaky', { primary: 'answer', fallback: 'answer' });
    expect(result).toMatchObject({ responder: 'primary', answer: { by: 'primary' } });
  });

  it('fails over to the fallback when the primary throws, within the deadline', async () => {
    const result = await client.request('flaky', { primary: 'throw', fallback: 'answer' });
    expect(result).toMatchObject({ responder: 'fallback', answer: { by: 'fallback' } });
  });

  it('fails over to the fallback when the primary sleeps past the deadline, within the deadline', async () => {
    const result = await client.request('flaky', { primary: 'sleep', fallback: 'answer' });
    expect(result).toMatchObject({ responder: 'fallback', answer: { by: 'fallback' } });
  });

  it('hedges: asks the fallback alongside a slow primary and takes the first answer', async () => {
    // With failoverAfterFraction 1, failover would abandon the sleeping primary only at the deadline itself, so
    // without the hedge this request ends in DeadlineExceeded; a fallback answer means the hedge asked it.
    const result = await client.request('flaky', { primary: 'sleep', fallback: 'answer' }, { hedgeAfterFraction: 0.2, failoverAfterFraction: 1 });
    expect(result).toMatchObject({ responder: 'fallback', answer: { by: 'fallback' } });
  });

  it('without a hedge, the same request with failover only at the deadline meets the deadline', async () => {
    // The control for the test above: the fallback is not asked in time unless something hedges.
    const failure = await client.request('flaky', { primary: 'sleep', fallback: 'answer' }, { failoverAfterFraction: 1 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeadlineExceeded);
    expect((failure as DeadlineExceeded).attempts).toStrictEqual([{ responder: 'primary', outcome: 'still running' }]);
  });

  it('says NoAnswer, with what each responder did, when both fail', async () => {
    const failure = await client.request('flaky', { primary: 'throw', fallback: 'throw' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(NoAnswer);
    expect((failure as NoAnswer).attempts).toStrictEqual([
      { responder: 'primary', outcome: expect.stringMatching(/function error: Error: primary is down/) },
      { responder: 'fallback', outcome: expect.stringMatching(/function error: Error: fallback is down too/) },
    ]);
  });

  it('throws DeadlineExceeded at the deadline when no one answers in time', async () => {
    const failure = await client.request('flaky', { primary: 'sleep', fallback: 'sleep' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeadlineExceeded);
    expect((failure as DeadlineExceeded).code).toBe('DEADLINE_EXCEEDED');
    expect((failure as DeadlineExceeded).attempts).toStrictEqual([
      { responder: 'primary', outcome: 'abandoned as too slow' },
      { responder: 'fallback', outcome: 'still running' },
    ]);
  });

  it('rejects a request that breaks the schema before invoking anything', async () => {
    await expect(client.request('flaky', { primary: 'dance' })).rejects.toThrow(/flaky: the payload breaks the channel's schema/);
  });
});

// Last in this file: the sleepers below keep the primary's instances busy until the cloud stops.
describe('Function: the local Lambda API, Event invocations and payload limits', () => {
  const payload = (primary: string, fallback = 'answer') => Buffer.from(JSON.stringify({ primary, fallback }));

  it('refuses an Event payload over 1 MB, as Lambda does, and takes the same payload synchronously', async () => {
    const FunctionName = client.output(OutputKey.primaryFunctionName('flaky'));
    const large = Buffer.from(JSON.stringify({ primary: 'answer', fallback: 'answer', padding: 'x'.repeat(1_100_000) }));
    await expect(client.lambda.send(new InvokeCommand({ FunctionName, InvocationType: 'Event', Payload: large }))).rejects.toMatchObject({ name: 'RequestEntityTooLargeException' });
    await expect(client.lambda.send(new InvokeCommand({ FunctionName, Payload: large }))).resolves.toMatchObject({ StatusCode: 200 });
  });

  it('retries an Event invocation whose function fails, twice', async () => {
    const fallback = cloud.functions.get(client.output(OutputKey.fallbackFunctionName('flaky')))!;
    const before = fallback.invocationCount;
    const accepted = await client.lambda.send(new InvokeCommand({ FunctionName: fallback.props.name, InvocationType: 'Event', Payload: payload('answer', 'throw') }));
    expect(accepted.StatusCode).toBe(202);
    // Once Lambda's queue holds nothing more, the function ran the first time and its two retries, and no more.
    expect(await eventually(async () => cloud.pendingEvents(), (pending) => pending === 0)).toBe(0);
    expect(fallback.invocationCount).toBe(before + 3);
  });

  it('accepts Event invocations while every instance is busy, where a synchronous one is throttled', async () => {
    const primary = cloud.functions.get(client.output(OutputKey.primaryFunctionName('flaky')))!;
    const FunctionName = primary.props.name;
    const limit = primary.props.concurrencyLimit;
    // GIVEN every instance busy with an invocation that sleeps until the function's timeout
    const sleepers = await Promise.all(Array.from({ length: limit + 3 }, () => client.lambda.send(new InvokeCommand({ FunctionName, InvocationType: 'Event', Payload: payload('sleep') }))));
    // THEN each Event was accepted, the ones beyond the limit queued, not refused
    expect(sleepers.map((result) => result.StatusCode)).toStrictEqual(Array.from({ length: limit + 3 }, () => 202));
    expect(await eventually(async () => primary.busyInstances, (busy) => busy === limit)).toBe(limit);
    // AND a synchronous call meanwhile is throttled (429), as Lambda does it
    await expect(client.lambda.send(new InvokeCommand({ FunctionName, Payload: payload('answer') }))).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });
});
