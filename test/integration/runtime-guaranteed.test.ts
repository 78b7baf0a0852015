import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleStore, PermanentError } from '../../functions/runtime/index.ts';
import { RECORDS_AT_ONCE } from '../../functions/runtime/at-most-at-once.ts';
import { eventually } from '../helpers/eventually.ts';
import { guaranteedFixture } from '../helpers/guaranteed-fixture.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());

const { consumerFor, countApplication, appliedCount, lifecycle } = guaranteedFixture(harness);

describe('Function: GuaranteedConsumer, exactly-once effects', () => {
  it('applies a transactional message delivered twice once, and keeps its reply', async () => {
    const { pair, deliver } = await consumerFor({ reply: true }, async ({ id }, { tableName }) => ({
      writes: [countApplication(id, tableName)],
      reply: { confirmed: id },
    }));
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: correlationId }, { correlationId });
    await harness.send(pair.queueUrl, { id: correlationId }, { correlationId });

    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });
    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });

    expect(await appliedCount(correlationId)).toBe(1);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', attempts: 1, reply: { confirmed: correlationId } });
  });

  it('applies an outside effect delivered twice once', async () => {
    const effects: string[] = [];
    const { pair, deliver } = await consumerFor({ effect: 'outside' }, async ({ id }) => {
      effects.push(id);
      return {};
    });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: correlationId }, { correlationId });
    await harness.send(pair.queueUrl, { id: correlationId }, { correlationId });

    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });
    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });

    expect(effects).toStrictEqual([correlationId]);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('dedupes on the SQS message id when the sender set no correlation id', async () => {
    const { pair, consumer } = await consumerFor({}, async ({ id }, { tableName }) => ({ writes: [countApplication(id, tableName)] }));
    const id = randomUUID();
    await harness.send(pair.queueUrl, { id });
    const [message] = await harness.receive(pair.queueUrl, 1);
    const event = harness.event([message!], pair.queueArn);
    // The same receive handed to the consumer twice, as after a batch response that was lost.
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(await appliedCount(id)).toBe(1);
    expect(await lifecycle(message!.MessageId!)).toMatchObject({ status: 'succeeded', messageId: message!.MessageId });
  });
});

describe('Function: GuaranteedConsumer, partial failures', () => {
  it('reports exactly the one failing record of a batch of 10', async () => {
    const { pair, consumer } = await consumerFor({}, async ({ id, fail }, { tableName }) => {
      if (fail) throw new Error('downstream unavailable');
      return { writes: [countApplication(id, tableName)] };
    });
    const ids = Array.from({ length: 10 }, () => randomUUID());
    for (const [index, id] of ids.entries()) await harness.send(pair.queueUrl, { id, fail: index === 6 }, { correlationId: id });
    const messages = await harness.receive(pair.queueUrl, 10);
    expect(messages).toHaveLength(10);
    const failing = messages.find((message) => JSON.parse(message.Body!).fail === true)!;

    const response = await consumer.processBatch(harness.event(messages, pair.queueArn));

    expect(response).toStrictEqual({ batchItemFailures: [{ itemIdentifier: failing.MessageId }] });
    const counts = await Promise.all(ids.map(appliedCount));
    expect(counts.filter((count) => count === 1)).toHaveLength(9);
    expect(await lifecycle(ids[6]!)).toMatchObject({ status: 'retrying', attempts: 1, reason: 'Error: downstream unavailable' });
  });
});

describe('Function: GuaranteedConsumer, dead-lettering', () => {
  it.each([
    ['bad JSON', '{"id": ', /^invalid JSON: /],
    ['a schema failure', JSON.stringify({ id: 42 }), /^schema violation: id: /],
  ])('dead-letters %s on its first receive, with the reason', async (_case, body, reason) => {
    const handled: unknown[] = [];
    const { pair, deliver } = await consumerFor({}, async (payload) => {
      handled.push(payload);
      return {};
    });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, body, { correlationId, attributes: { tenant: 'acme' } });

    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });

    expect(handled).toStrictEqual([]);
    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.Body).toBe(body);
    expect(dead?.MessageAttributes?.deadLetterReason?.StringValue).toMatch(reason);
    expect(dead?.MessageAttributes?.deadLetterAttempts?.StringValue).toBe('1');
    expect(dead?.MessageAttributes?.correlationId?.StringValue).toBe(correlationId);
    expect(dead?.MessageAttributes?.tenant?.StringValue).toBe('acme');
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', reason: expect.stringMatching(reason) });
  });

  it('dead-letters at once when the handler throws PermanentError', async () => {
    const { pair, deliver } = await consumerFor({}, async () => {
      throw new PermanentError('customer account closed');
    });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'x' }, { correlationId });
    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });
    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.MessageAttributes?.deadLetterReason?.StringValue).toBe('PermanentError: customer account closed');
  });

  it('dead-letters on the last allowed attempt with the reason, long before the redrive policy would act', async () => {
    const { pair, deliver } = await consumerFor({ maxAttempts: 2, backoffBaseSeconds: 1, backoffMaxSeconds: 1 }, async () => {
      throw new Error('payment provider timeout');
    });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'x' }, { correlationId });

    const firstResponse = await deliver(1);
    expect(firstResponse.batchItemFailures).toHaveLength(1);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'retrying', attempts: 1 });

    // The second receive, after the 1 s backoff, is the last attempt maxAttempts allows.
    expect(await deliver(1)).toStrictEqual({ batchItemFailures: [] });

    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.MessageAttributes?.deadLetterReason?.StringValue).toBe('gave up after 2 attempts: Error: payment provider timeout');
    expect(dead?.MessageAttributes?.deadLetterAttempts?.StringValue).toBe('2');
    expect(await lifecycle(correlationId)).toMatchObject({
      status: 'dead-lettered',
      attempts: 2,
      history: [
        expect.objectContaining({ status: 'retrying', attempt: 1 }),
        expect.objectContaining({ status: 'dead-lettered', attempt: 2 }),
      ],
    });
  });
});

describe('Function: GuaranteedConsumer, backoff', () => {
  it('hides a failed message for its backoff before the next attempt', async () => {
    const { pair, deliver } = await consumerFor({ backoffBaseSeconds: 3, backoffMaxSeconds: 3 }, async () => {
      throw new Error('not yet');
    });
    await harness.send(pair.queueUrl, { id: 'x' }, { correlationId: randomUUID() });
    const response = await deliver(1);
    expect(response.batchItemFailures).toHaveLength(1);

    // The queue's own visibility timeout is 30 s; the backoff set it to 3 s.
    const during = await harness.sqs.send(new ReceiveMessageCommand({ QueueUrl: pair.queueUrl, WaitTimeSeconds: 1 }));
    expect(during.Messages ?? []).toHaveLength(0);
    const after = await harness.receive(pair.queueUrl, 1, 5);
    expect(after[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });
});

describe('Function: GuaranteedConsumer, leases', () => {
  it('lets the next delivery take over a lease left by a crash once it expires, and not before', async () => {
    const effects: number[] = [];
    let now = Date.now();
    const { pair, consumer } = await consumerFor({ effect: 'outside', timeoutSeconds: 5, leaseSeconds: 6 }, async () => {
      effects.push(now);
      return {};
    }, { clock: () => now });
    const correlationId = randomUUID();
    // A first delivery claimed the message and crashed before completing.
    const store = new LifecycleStore(harness.dynamo, harness.lifecycleTableName);
    expect((await store.claim({ correlationId, channel: 'tests', messageId: 'crashed', attempt: 1 }, 6, now)).outcome).toBe('claimed');

    await harness.send(pair.queueUrl, { id: 'x' }, { correlationId });
    const [message] = await harness.receive(pair.queueUrl, 1);
    const event = harness.event([message!], pair.queueArn);

    // While the lease is live, the delivery steps back and is retried.
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: message!.MessageId }] });
    expect(effects).toHaveLength(0);

    // After it expires, the next delivery takes the message over and applies it.
    now += 7000;
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(effects).toHaveLength(1);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });
});

describe('Function: GuaranteedConsumer, FIFO', () => {
  it("stops a failed group's later records and lets other groups go on", async () => {
    const handled: string[] = [];
    const { pair, consumer } = await consumerFor({ fifo: true }, async ({ id, fail }) => {
      handled.push(id);
      if (fail) throw new Error('out of order');
      return {};
    }, { standardQueue: true });
    // fauxqs keeps one message per group in flight, while Lambda hands a consumer several of one group in
    // order; so the batch is received from a standard queue and given the groups Lambda would report.
    const plan = [
      { id: 'a1', group: 'a' },
      { id: 'a2', group: 'a', fail: true },
      { id: 'a3', group: 'a' },
      { id: 'b1', group: 'b' },
    ];
    for (const { id, fail } of plan) await harness.send(pair.queueUrl, { id, fail }, { correlationId: randomUUID() });
    const messages = await harness.receive(pair.queueUrl, 4);
    const order = (message: { Body?: string }) => plan.findIndex((step) => step.id === JSON.parse(message.Body!).id);
    messages.sort((left, right) => order(left) - order(right));
    const event = harness.event(messages, pair.queueArn);
    event.Records.forEach((record, index) => (record.attributes.MessageGroupId = plan[index]!.group));

    const response = await consumer.processBatch(event);

    expect(handled.filter((id) => id.startsWith('a'))).toStrictEqual(['a1', 'a2']);
    expect(handled).toContain('b1');
    expect(response).toStrictEqual({
      batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }, { itemIdentifier: event.Records[2]!.messageId }],
    });
  });

  it('runs the groups of a batch side by side, each in order', async () => {
    // GIVEN a batch whose first record, of group a, can finish only once group b's record has run
    const handled: string[] = [];
    const { pair, consumer } = await consumerFor({ fifo: true }, async ({ id }) => {
      if (id === 'a1') await eventually(async () => handled.includes('b1'), Boolean, 30_000);
      handled.push(id);
      return {};
    }, { standardQueue: true });
    const plan = [{ id: 'a1', group: 'a' }, { id: 'a2', group: 'a' }, { id: 'b1', group: 'b' }];
    for (const { id } of plan) await harness.send(pair.queueUrl, { id }, { correlationId: randomUUID() });
    const messages = await harness.receive(pair.queueUrl, plan.length, 5);
    messages.sort((left, right) => plan.findIndex((step) => step.id === JSON.parse(left.Body!).id) - plan.findIndex((step) => step.id === JSON.parse(right.Body!).id));
    const event = harness.event(messages, pair.queueArn);
    event.Records.forEach((record, index) => (record.attributes.MessageGroupId = plan[index]!.group));

    // WHEN it is processed
    const response = await consumer.processBatch(event);

    // THEN group b did not wait behind group a, and group a kept its order
    expect(response).toStrictEqual({ batchItemFailures: [] });
    expect(handled).toStrictEqual(['b1', 'a1', 'a2']);
  });
});

describe('Function: GuaranteedConsumer, a large standard batch', () => {
  it(`has at most ${RECORDS_AT_ONCE} records in progress at once, and more than one`, async () => {
    // GIVEN forty records whose handlers wait until two have been in progress together
    let running = 0;
    let peak = 0;
    const { pair, consumer } = await consumerFor({}, async () => {
      running += 1;
      peak = Math.max(peak, running);
      await eventually(async () => peak, (seen) => seen >= 2, 30_000);
      running -= 1;
      return {};
    });
    for (let index = 0; index < 40; index += 1) await harness.send(pair.queueUrl, { id: String(index) }, { correlationId: randomUUID() });
    const event = harness.event(await harness.receive(pair.queueUrl, 40, 5), pair.queueArn);
    expect(event.Records).toHaveLength(40);

    // WHEN the batch is processed, THEN every record succeeded, never more than the cap at once
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(peak).toBeLessThanOrEqual(RECORDS_AT_ONCE);
  });
});

describe('Function: GuaranteedConsumer, a large standard batch at its deadline', () => {
  it('starts no record once the batch deadline has passed', async () => {
    // GIVEN forty records whose handlers hold on until released, and a function with a second left
    let started = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { pair, consumer } = await consumerFor({}, async () => {
      started += 1;
      await held;
      return {};
    });
    for (let index = 0; index < 40; index += 1) await harness.send(pair.queueUrl, { id: String(index) }, { correlationId: randomUUID() });
    const event = harness.event(await harness.receive(pair.queueUrl, 40, 5), pair.queueArn);
    expect(event.Records).toHaveLength(40);

    // WHEN the batch runs into its deadline with the first records still running
    const response = await consumer.processBatch(event, { getRemainingTimeInMillis: () => 1000 });
    release();

    // THEN every record is reported for a retry, and only those already running had started
    expect(response.batchItemFailures).toHaveLength(40);
    expect(started).toBe(RECORDS_AT_ONCE);
  });
});

describe('Function: GuaranteedConsumer, bookkeeping', () => {
  it('never lets a late failure report overwrite a success', async () => {
    const store = new LifecycleStore(harness.dynamo, harness.lifecycleTableName);
    const id = { correlationId: randomUUID(), channel: 'tests', messageId: 'm', attempt: 1 };
    expect(await store.commit(id, [], null, Date.now())).toBe('committed');
    await store.recordFailure(id, { reason: 'late', now: Date.now(), increment: 1 });
    expect(await store.get(id.correlationId, 'tests')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});
