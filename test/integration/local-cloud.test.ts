import { GetCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueDepth } from '../../lib/client/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { synthesizeFixture } from '../fixtures/local-cloud/app.ts';
import { eventually } from '../helpers/eventually.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';

const stateDir = `.local-cloud/test-${randomUUID().slice(0, 8)}`;
let cloud: LocalCloud;
let sqs: SQSClient;
let dynamo: DynamoDBDocumentClient;
let lambda: LambdaClient;
let out: Record<string, string>;

beforeAll(async () => {
  cloud = await startLocalCloud({ cdkOut: synthesizeFixture(`${stateDir}/cdk.out`), stateDir, sharedDynamoDb: sharedDynamoDb('local-cloud') });
  const config = { region: cloud.endpoints.region, credentials: cloud.credentials };
  sqs = new SQSClient({ ...config, endpoint: cloud.endpoints.sqs });
  dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: cloud.endpoints.dynamodb }));
  lambda = new LambdaClient({ ...config, endpoint: cloud.endpoints.lambda, maxAttempts: 1 });
  out = cloud.outputs.Fixture!;
});

afterAll(async () => {
  await cloud?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const send = (queueKey: string, body: string) => sqs.send(new SendMessageCommand({ QueueUrl: out[queueKey], MessageBody: body }));
const receivesOf = async (key: string) =>
  ((await dynamo.send(new GetCommand({ TableName: out.RecordsTable, Key: { pk: key }, ConsistentRead: true }))).Item?.receives as number | undefined) ?? 0;
const firstBatchOf = async (failingBody: string) =>
  (await dynamo.send(new GetCommand({ TableName: out.RecordsTable, Key: { pk: `partial-first-batch#${failingBody}` }, ConsistentRead: true }))).Item as
    | { bodies: string[]; receiptHandle: string }
    | undefined;


describe('Local cloud: the template', () => {
  it('builds queues, tables and functions from the template and lists what it skips', () => {
    expect(cloud.queues.map((queue) => queue.logicalId)).toEqual(expect.arrayContaining([expect.stringMatching(/^ThrowsQueueDlq/), expect.stringMatching(/^ThrowsQueue/)]));
    expect(cloud.tables).toHaveLength(2);
    expect(cloud.functions.size).toBe(11);
    // Roles, policies and queue policies are what the IAM gateways enforce, so they are not listed as skipped.
    expect(cloud.iam).toStrictEqual({ enforced: true, exceptions: [] });
    expect(cloud.skipped.filter((line) => /AWS::(IAM|SQS::QueuePolicy)/.test(line))).toStrictEqual([]);
  });
});

describe.concurrent('Local cloud: event source mappings', () => {
  it('sends a message from a consumer that always throws to the DLQ after exactly maxReceiveCount receives', async () => {
    const body = randomUUID();
    await send('ThrowsQueueUrl', body);
    const dead = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: out.ThrowsQueueDlqUrl, WaitTimeSeconds: 1 }))).Messages ?? [],
      (messages) => messages.length > 0,
    );
    expect(dead.map((message) => message.Body)).toStrictEqual([body]);
    // The last invocation may still be writing its count when the message reaches the DLQ.
    expect(await eventually(() => receivesOf(`throws#${body}`), (count) => count >= 3)).toBe(3);
  });

  it('redelivers only the records a partial batch response reports', async () => {
    const queueUrl = out.PartialQueueUrl!;
    // A trio sent in one SendMessageBatch lands in one batch as a rule (the mapping has a batching window), but
    // nothing guarantees it: another poller may take part of it. Try fresh trios until the failing record's first
    // batch held an ok record, checking every trio in full on the way.
    let mixed = false;
    for (let attempt = 1; attempt <= 5 && !mixed; attempt += 1) {
      const tag = randomUUID();
      const [ok1, fail, ok2] = [`ok-1-${tag}`, `fail-${tag}`, `ok-2-${tag}`];
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [ok1, fail, ok2].map((body, index) => ({ Id: String(index), MessageBody: body })) }));
      const first = await eventually(() => firstBatchOf(fail), (batch) => batch !== undefined);
      expect(first, 'the failing record was never received').toBeDefined();
      // Each invocation's response applied: successes deleted, the reported failure left in flight under the
      // queue's long visibility timeout. An undeleted success would keep more in the queue; a deleted failure, less.
      expect(await eventually(() => queueDepth(sqs, queueUrl), (depth) => depth <= 1)).toBe(1);
      expect(await receivesOf(`partial#${fail}`)).toBe(1);
      // Release the failure now instead of waiting out the timeout (this throws if it is no longer in flight).
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first!.receiptHandle, VisibilityTimeout: 0 }));
      expect(await eventually(() => queueDepth(sqs, queueUrl), (depth) => depth === 0)).toBe(0);
      expect(await receivesOf(`partial#${fail}`)).toBe(2);
      expect(await receivesOf(`partial#${ok1}`)).toBe(1);
      expect(await receivesOf(`partial#${ok2}`)).toBe(1);
      mixed = first!.bodies.includes(ok1) || first!.bodies.includes(ok2);
    }
    expect(mixed, 'no trio was delivered as a mixed batch').toBe(true);
  });

  it('cuts off a consumer past its timeout and retries the message', async () => {
    const body = randomUUID();
    await send('SlowQueueUrl', body);
    const done = await eventually(() => receivesOf(`slow-done#${body}`), (count) => count >= 1);
    expect(done).toBeGreaterThanOrEqual(1);
    // The first attempt was terminated before it finished: a start more than the completions (a retry whose cold start
    // outlasts the visibility timeout on a busy machine can bring a third start, and a second completion).
    expect(await receivesOf(`slow#${body}`)).toBeGreaterThan(done);
  });

  it('caps concurrent instances at the mapping maxConcurrency, measured from what the handler saw', async () => {
    for (let index = 0; index < 10; index += 1) await send('ConcurrencyQueueUrl', `c-${index}`);
    const intervals = await eventually(
      async () => ((await dynamo.send(new ScanCommand({ TableName: out.RecordsTable, ConsistentRead: true }))).Items ?? []).filter((item) => String(item.pk).startsWith('interval#')),
      (items) => items.length >= 10,
      30_000,
    );
    expect(intervals).toHaveLength(10);
    const events = intervals.flatMap((item) => [
      { at: item.startedAt as number, delta: 1 },
      { at: item.endedAt as number, delta: -1 },
    ]);
    events.sort((left, right) => left.at - right.at || left.delta - right.delta);
    let running = 0;
    let peak = 0;
    for (const event of events) peak = Math.max(peak, (running += event.delta));
    expect(peak).toBe(2);
    expect(cloud.functions.get(out.ConcurrencyName!)?.peakConcurrency).toBe(2);
  });
});

describe('Local cloud: event source mappings scale as Lambda scales them', () => {
  it('starts at five batches, grows while messages remain up to the local limit though MaximumConcurrency is 50, throttles none, and falls back', async () => {
    const mapping = cloud.mappings.find((candidate) => candidate.functionName === out.HoldName)!;
    const fn = cloud.functions.get(out.HoldName!)!;
    // GIVEN an idle mapping: Lambda's initial five concurrent batches
    expect(mapping.pollers).toBe(5);
    // WHEN a burst keeps every receive full: the queue is topped up until the mapping has grown as far as it will (on
    // a busy machine batches take longer and growth comes later, so the burst is as long as the growth needs)
    let sent = 0;
    const visible = () => queueDepth(sqs, out.HoldQueueUrl!, ['ApproximateNumberOfMessages']);
    while (mapping.peakPollers < 10 && sent < 2000) {
      if ((await visible()) < 30) {
        for (let batch = 0; batch < 3; batch += 1, sent += 10) {
          const entries = Array.from({ length: 10 }, (_, index) => ({ Id: String(index), MessageBody: `hold-${sent}-${index}` }));
          await sqs.send(new SendMessageBatchCommand({ QueueUrl: out.HoldQueueUrl, Entries: entries }));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await eventually(async () => fn.invocationCount, (count) => count >= sent);
    // THEN it grew to the function's local limit and no further, and no batch was throttled
    expect(mapping.peakPollers).toBe(10);
    expect(fn.peakConcurrency).toBe(10);
    expect(mapping.throttled).toBe(0);
    // AND once receives come back empty, the pollers added under load retire
    expect(await eventually(async () => mapping.pollers, (pollers) => pollers === 5)).toBe(5);
  });
});

describe('Local cloud: event source mappings receive as SQS answers', () => {
  it.each([
    ['batches of one', 'Hold'],
    ['batches of ten', 'HoldBatch'],
  ])('takes each message on a quiet queue with one receive, not one per waiting poller (%s)', async (_, name) => {
    const mapping = cloud.mappings.find((candidate) => candidate.functionName === out[`${name}Name`])!;
    const fn = cloud.functions.get(out[`${name}Name`]!)!;
    await eventually(async () => mapping.pollers, (pollers) => pollers === 5);
    const cutShortBefore = mapping.emptyReceivesCutShort;
    // WHEN five messages come one at a time, each once the one before is handled, to a queue five pollers wait on
    for (let index = 0; index < 5; index += 1) {
      const invoked = fn.invocationCount;
      await send(`${name}QueueUrl`, `quiet-${index}`);
      await eventually(async () => fn.invocationCount, (count) => count > invoked);
      await eventually(async () => fn.busyInstances, (busy) => busy === 0);
    }
    // THEN no poller was answered empty on their account: fauxqs answers every waiting receive when one message
    // comes, and the four pollers not taking it would have come back empty before their long poll ran out, at least
    // four times per message. (A long poll that runs out is not counted: on a busy machine there may be several.)
    expect(mapping.emptyReceivesCutShort - cutShortBefore).toBeLessThan(5);
  });
});

describe('Local cloud: the Lambda Invoke API', () => {
  const invoke = (payload: unknown, invocationType: 'RequestResponse' | 'Event' = 'RequestResponse') =>
    lambda.send(new InvokeCommand({ FunctionName: out.ResponderName, Payload: Buffer.from(JSON.stringify(payload)), InvocationType: invocationType }));

  it('answers RequestResponse with the result, keeping module state in the warm instance', async () => {
    const first = await invoke({ mode: 'echo', value: 'a' });
    const second = await invoke({ mode: 'echo', value: 'b' });
    expect(first.StatusCode).toBe(200);
    expect(first.FunctionError).toBeUndefined();
    const answers = [first, second].map((response) => JSON.parse(Buffer.from(response.Payload!).toString()));
    expect(answers[1].value).toBe('b');
    expect(answers[1].invocationsOfThisInstance).toBe(answers[0].invocationsOfThisInstance + 1);
  });

  it("hands a synchronous caller's client context to the function, as Lambda does", async () => {
    const ClientContext = Buffer.from(JSON.stringify({ custom: { why: 'failover' } })).toString('base64');
    const response = await lambda.send(new InvokeCommand({ FunctionName: out.ResponderName, Payload: Buffer.from('{"mode":"echo"}'), ClientContext }));
    expect(JSON.parse(Buffer.from(response.Payload!).toString()).clientContext).toStrictEqual({ custom: { why: 'failover' } });
  });

  it("freezes an instance once it has answered, as Lambda does: work left running goes on only with the next invocation", async () => {
    // GIVEN an answer that leaves a timer behind, due in 10 ms
    const file = join(mkdtempSync(join(tmpdir(), 'frozen-')), 'background');
    expect((await invoke({ mode: 'background', file })).FunctionError).toBeUndefined();

    // THEN it does not run while the instance waits (a second, a hundred times its due time) ...
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(existsSync(file)).toBe(false);

    // ... and runs once the instance is invoked again and its event loop turns
    await invoke({ mode: 'sleep', ms: 100 });
    expect(await eventually(async () => existsSync(file), Boolean)).toBe(true);
  });

  it('reports a thrown error as a function error', async () => {
    const response = await invoke({ mode: 'throw' });
    expect(response.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(response.Payload!).toString())).toMatchObject({ errorType: 'TypeError', errorMessage: 'asked to fail' });
  });

  it('accepts an Event invocation with 202', async () => {
    expect((await invoke({ mode: 'echo' }, 'Event')).StatusCode).toBe(202);
  });

  it('answers 429 when the function concurrency (reserved 1) is exhausted', async () => {
    const responder = cloud.functions.get(out.ResponderName!)!;
    // The Event invocation above may still hold the one instance; start from an idle function.
    await eventually(async () => responder.busyInstances, (busy) => busy === 0);
    // Held far longer than the check below can take (the function's 2 s timeout ends it).
    const busy = invoke({ mode: 'sleep', ms: 30_000 });
    await eventually(async () => responder.busyInstances, (count) => count === 1);
    await expect(invoke({ mode: 'echo' })).rejects.toBeInstanceOf(TooManyRequestsException);
    await busy;
  });

  it('runs INIT outside the function timeout, as Lambda does', async () => {
    // GIVEN a function whose module takes 3 s to load and whose timeout is 1 s
    const response = await lambda.send(new InvokeCommand({ FunctionName: out.SlowInitName, Payload: Buffer.from('{}') }));
    // THEN its cold invocation still runs, with its whole second ahead of it when the handler starts
    expect(response.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(response.Payload!).toString()).remainingMs).toBeGreaterThan(500);
  });

  it('times out an invocation past the function timeout', async () => {
    const response = await invoke({ mode: 'sleep', ms: 5000 });
    expect(response.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(response.Payload!).toString())).toMatchObject({ errorType: 'Sandbox.Timedout' });
  });
});
