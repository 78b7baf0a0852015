import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GuaranteedConsumer, LifecycleStore, MAX_HISTORY_EVENTS, PermanentError } from '../../functions/runtime/index.ts';
import { DEAD_LETTER_ATTRIBUTE_BYTES, DEAD_LETTER_REASON_MAX_CHARS, defineChannel, MessageAttribute, resolvePolicy, SQS_MAX_MESSAGE_BYTES } from '../../lib/policy/index.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { eventually } from '../helpers/eventually.ts';
import { guaranteedFixture } from '../helpers/guaranteed-fixture.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

// Each test here reproduces a way the guarantees broke before the runtime owned its attempt budget.
const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());

const { consumerFor, countApplication, appliedCount, lifecycle, store } = guaranteedFixture(harness);

/** Sends one message and receives it, returning the SQS event a consumer would get. */
async function received(pair: { queueUrl: string; queueArn: string }, body: object, options: { correlationId?: string; attributes?: Record<string, string> } = {}) {
  await harness.send(pair.queueUrl, body, options);
  const messages = await harness.receive(pair.queueUrl, 1);
  expect(messages).toHaveLength(1);
  return { message: messages[0]!, event: harness.event(messages, pair.queueArn) };
}

describe.concurrent('Function: GuaranteedConsumer, leases', () => {
  it("does not release the lease of a delivery that took the message over after its own lease expired", async () => {
    let now = Date.now();
    const effects: string[] = [];
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ effect: 'outside', timeoutSeconds: 5, leaseSeconds: 6 }, async () => {
      effects.push('effect');
      // This attempt outlives its lease, and another delivery takes the message over before it fails.
      now += 7000;
      expect((await store().claim({ correlationId, channel: 'tests', messageId: 'takeover', attempt: 2 }, 6, now)).outcome).toBe('claimed');
      throw new Error('failed after its lease expired');
    }, { clock: () => now });
    const { event } = await received(pair, { id: 'x' }, { correlationId });

    await consumer.processBatch(event);
    // The takeover's lease still holds, so a third delivery steps back instead of running the effect again.
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });

    expect(effects).toHaveLength(1);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'in-progress', leaseUntil: now + 6000 });
  });

  it('keeps a message on its queue when it dead-letters a copy after another delivery took the message over', async () => {
    // Found by the model-based test: the dead-lettering delivery reported success though its mark was superseded,
    // so the message was deleted from its queue while its record said retrying, with no terminal record.
    let now = Date.now();
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ effect: 'outside', timeoutSeconds: 5, leaseSeconds: 6, maxAttempts: 1 }, async () => {
      now += 7000;
      expect((await store().claim({ correlationId, channel: 'tests', messageId: 'takeover', attempt: 2 }, 6, now)).outcome).toBe('claimed');
      throw new Error('failed after its lease expired, its budget spent');
    }, { clock: () => now });
    const { event } = await received(pair, { id: 'x' }, { correlationId });

    // WHEN its budget is spent it sends a copy to the DLQ, but the record now belongs to the takeover
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });

    // THEN the record stays the takeover's, and the message is not deleted: it comes back for a decision its record
    // will show (the DLQ copy has the same correlation id, so a redrive of it applies the message once)
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'in-progress', messageId: 'takeover', leaseToken: expect.any(String) });
    const [copy] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(copy?.MessageAttributes?.deadLetterReason?.StringValue).toMatch(/^gave up after \d+ attempts/);
    expect(copy?.MessageAttributes?.[MessageAttribute.correlationId]?.StringValue).toBe(correlationId);
  });

  it("steps back from a held lease for the lease's remainder, not for the backoff", async () => {
    const correlationId = randomUUID();
    // The consumer's clock stands still, so the lease has 2 s left for it however long the machine takes to get there.
    const now = Date.now();
    const { pair, consumer } = await consumerFor({ effect: 'outside', timeoutSeconds: 5, leaseSeconds: 6, backoffBaseSeconds: 600, backoffMaxSeconds: 600 }, async () => ({}), { clock: () => now });
    // Another delivery claimed it 4 s ago: its lease has 2 s left.
    await store().claim({ correlationId, channel: 'tests', messageId: 'other', attempt: 1 }, 6, now - 4000);
    const { event } = await received(pair, { id: 'x' }, { correlationId });

    expect((await consumer.processBatch(event)).batchItemFailures).toHaveLength(1);

    // Back once the lease can be taken over, long before a 600 s backoff would have let it.
    const [again] = await harness.receive(pair.queueUrl, 1, 15);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect((await lifecycle(correlationId))?.attempts).toBe(1);
  });

  it('dead-letters with a reason and a terminal record on the last receive while another delivery holds the lease', async () => {
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ effect: 'outside', timeoutSeconds: 5, leaseSeconds: 6, maxAttempts: 2, maxReceiveCount: 3 }, async () => ({}));
    await store().claim({ correlationId, channel: 'tests', messageId: 'other', attempt: 1 }, 6, Date.now());
    const { event } = await received(pair, { id: 'x' }, { correlationId });
    event.Records[0]!.attributes.ApproximateReceiveCount = '3';

    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });

    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.MessageAttributes?.deadLetterReason?.StringValue).toBe('receive limit (3) reached while another delivery held the lease');
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', reason: 'receive limit (3) reached while another delivery held the lease' });
  });
});

describe.concurrent('Function: GuaranteedConsumer, the attempt budget', () => {
  it('counts attempts that ran the handler, not receives: a record held back 4 times still has its budget', async () => {
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ fifo: true, maxAttempts: 5 }, async () => {
      throw new Error('first real failure');
    }, { standardQueue: true });
    const { event } = await received(pair, { id: 'x' }, { correlationId });
    Object.assign(event.Records[0]!.attributes, { ApproximateReceiveCount: '5', MessageGroupId: 'a' });

    expect((await consumer.processBatch(event)).batchItemFailures).toHaveLength(1);

    expect(await lifecycle(correlationId)).toMatchObject({ status: 'retrying', attempts: 1, reason: 'Error: first real failure' });
    expect(await harness.receive(pair.deadLetterQueueUrl, 1, 0)).toHaveLength(0);
  });

  it("brings a FIFO group's held-back records back with the failed one, after the group's backoff", async () => {
    const { pair, consumer } = await consumerFor({ fifo: true, backoffBaseSeconds: 1, backoffMaxSeconds: 1 }, async ({ fail }) => {
      if (fail) throw new Error('out of stock');
      return {};
    }, { standardQueue: true });
    await harness.send(pair.queueUrl, { id: 'a1', fail: true }, { correlationId: randomUUID() });
    await harness.send(pair.queueUrl, { id: 'a2' }, { correlationId: randomUUID() });
    const messages = await harness.receive(pair.queueUrl, 2);
    messages.sort((left) => (JSON.parse(left.Body!).fail ? -1 : 1));
    const event = harness.event(messages, pair.queueArn);
    event.Records.forEach((record) => (record.attributes.MessageGroupId = 'a'));

    expect((await consumer.processBatch(event)).batchItemFailures).toHaveLength(2);

    // The queue's own visibility timeout is 30 s; both come back after the 1 s backoff.
    const back = await harness.receive(pair.queueUrl, 2, 10);
    expect(back.map((message) => JSON.parse(message.Body!).id).sort()).toStrictEqual(['a1', 'a2']);
  });

  it('gives a redriven message a fresh budget instead of dead-lettering it on its first failure', async () => {
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ maxAttempts: 2 }, async () => {
      throw new Error('still down');
    });
    const { event } = await received(pair, { id: 'x' }, { correlationId });
    await consumer.processBatch(event);
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);

    // The operator redrives it; the first failure after the redrive is its first attempt of a new budget.
    const redriven = harness.event([dead!], pair.queueArn);
    expect((await consumer.processBatch(redriven)).batchItemFailures).toHaveLength(1);

    expect(await lifecycle(correlationId)).toMatchObject({ status: 'retrying', attempts: 3, attemptsBeforeRedrive: 2 });
  });

  it('dead-letters on the backstop receive with a reason, though attempts remain', async () => {
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ maxAttempts: 5, maxReceiveCount: 6 }, async () => {
      throw new Error('flaky');
    });
    const { event } = await received(pair, { id: 'x' }, { correlationId });
    event.Records[0]!.attributes.ApproximateReceiveCount = '6';

    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });

    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.MessageAttributes?.deadLetterReason?.StringValue).toBe('receive limit (6) reached after 1 attempts: Error: flaky');
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', attempts: 1 });
  });
});

describe.concurrent('Function: GuaranteedConsumer, dead letters', () => {
  it('dead-letters the largest message the SDK sends with a long reason: the DLQ copy still fits, reason cut', async () => {
    // GIVEN a poison message of the largest size the SDK lets through, whose 300 schema issues make a long reason
    const policy = resolvePolicy('tests', { kind: 'guaranteed' });
    const pair = await harness.queuePair({ maxReceiveCount: policy.maxReceiveCount });
    const channel = defineChannel('tests', { policy, schema: z.object({ items: z.array(z.string()), padding: z.string() }) });
    const consumer = new GuaranteedConsumer({
      channel,
      policy,
      handle: async () => ({}),
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo },
    });
    const correlationId = randomUUID();
    const items = Array.from({ length: 300 }, (_, index) => index);
    const unpadded = JSON.stringify({ items, padding: '' });
    const largest = SQS_MAX_MESSAGE_BYTES - 256 - DEAD_LETTER_ATTRIBUTE_BYTES;
    await harness.send(pair.queueUrl, { items, padding: 'x'.repeat(largest - unpadded.length - correlationId.length - 64) }, { correlationId });
    const messages = await harness.receive(pair.queueUrl, 1);
    // (the body leaves room only for the SDK's own attributes: the largest message the SDK lets through)
    expect(Buffer.byteLength(messages[0]!.Body!)).toBeGreaterThan(largest - 1000);

    // WHEN the consumer meets it THEN it is dead-lettered at once, with the reason cut to fit
    expect(await consumer.processBatch(harness.event(messages, pair.queueArn))).toStrictEqual({ batchItemFailures: [] });
    const [copy] = await harness.receive(pair.deadLetterQueueUrl, 1);
    const reason = copy?.MessageAttributes?.[MessageAttribute.deadLetterReason]?.StringValue ?? '';
    expect(reason).toMatch(/^schema violation: items\.0: .*…$/);
    expect(reason.length).toBe(DEAD_LETTER_REASON_MAX_CHARS);
    // AND the lifecycle record keeps the reason whole: the first 20 issues and how many more
    expect((await lifecycle(correlationId))?.reason).toMatch(/^schema violation: items\.0: .*; and 280 more$/);
  });

  it('gives a DLQ copy the dedupe key of a message sent without a correlation id', async () => {
    const { pair, consumer } = await consumerFor({}, async () => {
      throw new PermanentError('account closed');
    });
    const { message, event } = await received(pair, { id: 'x' });

    await consumer.processBatch(event);

    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.MessageAttributes?.correlationId?.StringValue).toBe(message.MessageId);
  });

  it("treats a failing redelivery of a message already applied as a duplicate, not a failure", async () => {
    let failing = false;
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({ maxAttempts: 1 }, async ({ id }, { tableName }) => {
      if (failing) throw new Error('downstream gone');
      return { writes: [countApplication(id, tableName)] };
    });
    const { event } = await received(pair, { id: correlationId }, { correlationId });
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });

    failing = true;
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });

    expect(await harness.receive(pair.deadLetterQueueUrl, 1, 0)).toHaveLength(0);
    expect(await appliedCount(correlationId)).toBe(1);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});

/**
 * Moves each DLQ copy back to its queue as SQS's StartMessageMoveTask does: body and attributes as they are (the
 * runtime's dead-letter attributes included), under a new message id.
 */
async function moveBack(pair: { queueUrl: string; deadLetterQueueUrl: string }): Promise<number> {
  const copies = await harness.receive(pair.deadLetterQueueUrl, 10);
  for (const copy of copies) {
    await harness.sqs.send(new SendMessageCommand({ QueueUrl: pair.queueUrl, MessageBody: copy.Body!, MessageAttributes: copy.MessageAttributes }));
    await harness.sqs.send(new DeleteMessageCommand({ QueueUrl: pair.deadLetterQueueUrl, ReceiptHandle: copy.ReceiptHandle! }));
  }
  return copies.length;
}

describe.concurrent('Function: GuaranteedConsumer, an outside effect whose result cannot be kept', () => {
  // An outside effect is out in the world once its handler returns. A result the runtime cannot keep is a handler's bug,
  // and retrying or redriving would apply the effect again: the message is dead-lettered as applied, and never run again.
  const replySchema = z.object({ ok: z.boolean() });

  async function outsideConsumer(result: (id: string, tableName: string) => { writes?: object[]; reply?: unknown }) {
    const policy = resolvePolicy('tests', { kind: 'guaranteed', effect: 'outside', reply: true, timeoutSeconds: 5 });
    const pair = await harness.queuePair({ maxReceiveCount: policy.maxReceiveCount });
    const effects: string[] = [];
    const consumer = new GuaranteedConsumer({
      channel: defineChannel('tests', { policy, schema: z.object({ id: z.string() }), replySchema }),
      policy,
      handle: async ({ id }, { tableName }) => {
        effects.push(id);
        return result(id, tableName) as never;
      },
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo },
    });
    return { pair, consumer, effects };
  }

  it.each([
    ['a reply that breaks the reply schema', () => ({ reply: { ok: 'yes' } }), /the handler's reply breaks the reply schema: ok: /],
    ['more writes than one transaction holds', (id: string, tableName: string) => ({ writes: Array.from({ length: 100 }, (_, n) => countApplication(`${id}-${n}`, tableName)), reply: { ok: true } }), /the handler returned 100 writes/],
  ])('applies it once after %s: dead-lettered as applied, and neither a redelivery nor a redrive runs it again', async (_case, result, why) => {
    const { pair, consumer, effects } = await outsideConsumer(result);
    const correlationId = randomUUID();
    const { event } = await received(pair, { id: correlationId }, { correlationId });

    // WHEN the handler has applied its effect and its result cannot be kept
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    // THEN the message is dead-lettered, the record saying the effect was applied and why
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', effectApplied: true, reason: expect.stringMatching(why) });
    expect(await lifecycle(correlationId)).not.toHaveProperty('leaseToken');

    // AND a redelivery of the same message, and a redrive of its copy, run nothing
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(await moveBack(pair)).toBeGreaterThanOrEqual(1);
    const redriven = harness.event(await harness.receive(pair.queueUrl, 10), pair.queueArn);
    expect(await consumer.processBatch(redriven)).toStrictEqual({ batchItemFailures: [] });
    expect(effects).toStrictEqual([correlationId]);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', effectApplied: true });
  });
});

describe.concurrent('Function: GuaranteedConsumer, DLQ copies SQS takes', () => {
  it('dead-letters a message with ten attributes of its own, and hands them back whole after a redrive', async () => {
    let failing = true;
    const seen: string[][] = [];
    const { pair, consumer } = await consumerFor({}, async (_payload, { record }) => {
      if (failing) throw new PermanentError('account closed');
      seen.push(Object.keys(record.messageAttributes).sort());
      return {};
    });
    // GIVEN a message sent behind the SDK's back with nine attributes and its correlation id: SQS's ten
    const attributes = Object.fromEntries(Array.from({ length: 9 }, (_, n) => [`attribute${n}`, `value ${n}`]));
    const correlationId = randomUUID();
    const { event } = await received(pair, { id: 'x' }, { correlationId, attributes });

    // WHEN it is dead-lettered THEN its copy is in the DLQ with its reason
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', reason: 'PermanentError: account closed' });
    const [copy] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(copy?.MessageAttributes?.[MessageAttribute.deadLetterReason]?.StringValue).toBe('PermanentError: account closed');
    expect(Object.keys(copy!.MessageAttributes!).length).toBeLessThanOrEqual(10);
    await harness.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: pair.deadLetterQueueUrl, ReceiptHandle: copy!.ReceiptHandle!, VisibilityTimeout: 0 }));

    // AND once redriven, its handler sees the attributes it was sent with
    failing = false;
    await moveBack(pair);
    expect(await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn))).toStrictEqual({ batchItemFailures: [] });
    expect(seen).toStrictEqual([[...Object.keys(attributes), MessageAttribute.correlationId].sort()]);
  });

  it('dead-letters a message near SQS limit, sent behind the SDK, with as much of its reason as fits', async () => {
    const { pair, consumer } = await consumerFor({}, async () => {
      throw new PermanentError(`account closed: ${'because '.repeat(200)}`);
    });
    const correlationId = randomUUID();
    const body = JSON.stringify({ id: 'x', padding: 'x'.repeat(SQS_MAX_MESSAGE_BYTES - 400) });
    await harness.send(pair.queueUrl, body, { correlationId });
    const messages = await harness.receive(pair.queueUrl, 1);

    expect(await consumer.processBatch(harness.event(messages, pair.queueArn))).toStrictEqual({ batchItemFailures: [] });

    const [copy] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(copy?.Body).toBe(body);
    expect(copy?.MessageAttributes?.[MessageAttribute.deadLetterReason]?.StringValue).toMatch(/^PermanentError: account closed: because .*…$/);
    expect((await lifecycle(correlationId))?.reason).toMatch(/because $/);
  });

  it('leaves a message no copy can carry to the redrive policy, its record terminal with the reason, nothing lost', async () => {
    const { pair, consumer, policy } = await consumerFor({ maxAttempts: 1, maxReceiveCount: 2 }, async () => {
      throw new PermanentError('account closed');
    });
    const correlationId = randomUUID();
    // (its body and correlation id take SQS's whole limit: no room for a reason)
    const wrapping = JSON.stringify({ id: 'x', padding: '' }).length + `${MessageAttribute.correlationId}String${correlationId}`.length;
    const body = JSON.stringify({ id: 'x', padding: 'x'.repeat(SQS_MAX_MESSAGE_BYTES - wrapping) });
    await harness.send(pair.queueUrl, body, { correlationId });
    const messages = await harness.receive(pair.queueUrl, 1);
    const event = harness.event(messages, pair.queueArn);

    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: messages[0]!.MessageId }] });

    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', reason: expect.stringMatching(/^PermanentError: account closed \(no DLQ copy of .* fits .*redrive policy moves it after 2 receives\)$/) });
    // The message comes back at once (not after a backoff) and, past its receives, SQS moves it as it is
    expect(policy.maxReceiveCount).toBe(2);
    const again = await harness.receive(pair.queueUrl, 1);
    expect(again[0]?.Body).toBe(body);
    expect((await consumer.processBatch(harness.event(again, pair.queueArn))).batchItemFailures).toHaveLength(1);
    expect(await harness.receive(pair.queueUrl, 1)).toStrictEqual([]);
    expect((await harness.receive(pair.deadLetterQueueUrl, 1))[0]?.Body).toBe(body);
  });
});

describe.concurrent('Function: GuaranteedConsumer, permanent DynamoDB failures', () => {
  const cases: [string, (id: string, tableName: string) => object[], RegExp][] = [
    [
      "a failed condition on the handler's own write",
      (id, tableName) => [{ Put: { TableName: tableName, Item: { pk: `stock#${id}`, sk: 'level' }, ConditionExpression: 'attribute_exists(pk)' } }],
      /^the handler's write 1 was refused: ConditionalCheckFailed/,
    ],
    [
      'more writes than one transaction holds',
      (id, tableName) => Array.from({ length: 100 }, (_, index) => countApplication(`${id}-${index}`, tableName)),
      /^PermanentError: the handler returned 100 writes; one transaction holds 99 besides the lifecycle record$/,
    ],
    [
      'an item over 400 KB',
      (id, tableName) => [{ Put: { TableName: tableName, Item: { pk: `blob#${id}`, sk: 'x', data: 'x'.repeat(410 * 1024) } } }],
      /^ValidationException: /,
    ],
  ];

  it.each(cases)('dead-letters %s on its first attempt, with the reason', async (_case, writes, reason) => {
    const correlationId = randomUUID();
    const { pair, consumer } = await consumerFor({}, async ({ id }, { tableName }) => ({ writes: writes(id, tableName) as never }));
    const { event } = await received(pair, { id: correlationId }, { correlationId });

    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });

    const [dead] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(dead?.MessageAttributes?.deadLetterReason?.StringValue).toMatch(reason);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'dead-lettered', attempts: 1 });
  });

  it(`keeps at most ${MAX_HISTORY_EVENTS} events in the lifecycle record of a message that fails again and again`, async () => {
    const correlationId = randomUUID();
    const rounds = MAX_HISTORY_EVENTS + 10;
    let failures = 0;
    const { pair, consumer } = await consumerFor({ maxAttempts: 100 }, async () => {
      failures += 1;
      throw new Error(`failure ${failures}`);
    });
    const { event } = await received(pair, { id: 'x' }, { correlationId });

    for (let round = 0; round < rounds; round += 1) expect((await consumer.processBatch(event)).batchItemFailures).toHaveLength(1);

    const record = await lifecycle(correlationId);
    expect(record?.history).toHaveLength(MAX_HISTORY_EVENTS);
    expect(record?.history.at(-1)).toMatchObject({ status: 'retrying', reason: `Error: failure ${rounds}` });
    expect(record?.attempts).toBe(rounds);
  });
});

describe.concurrent('Function: GuaranteedConsumer, the function deadline', () => {
  it('answers before the timeout with the slow record failed and the others applied', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const { pair, consumer } = await consumerFor({}, async ({ id, fail }, { tableName }) => {
      if (fail) await stuck;
      return { writes: [countApplication(id, tableName)] };
    });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [index, id] of ids.entries()) await harness.send(pair.queueUrl, { id, fail: index === 1 }, { correlationId: id });
    const messages = await harness.receive(pair.queueUrl, 3);
    const slow = messages.find((message) => JSON.parse(message.Body!).fail === true)!;

    // 6 s left: the batch answers at 5.4 s, a hundred times what the two quick records take.
    const response = await consumer.processBatch(harness.event(messages, pair.queueArn), { getRemainingTimeInMillis: () => 6000 });

    expect(response).toStrictEqual({ batchItemFailures: [{ itemIdentifier: slow.MessageId }] });
    expect(await Promise.all([appliedCount(ids[0]!), appliedCount(ids[2]!)])).toStrictEqual([1, 1]);
    release();
  });

  it('keeps nothing of a record cut off at the deadline, though its handler returns later: the batch has answered for it', async () => {
    // GIVEN a record whose handler returns only after the batch has answered, as one does when Lambda thaws the
    // instance in a later invocation (by then its message may have been applied or dead-lettered, or overtaken in its
    // FIFO group, by its own redelivery)
    let returned!: () => void;
    const handlerReturned = new Promise<void>((resolve) => (returned = resolve));
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const { pair, consumer } = await consumerFor({}, async ({ id }, { tableName }) => {
      await stuck;
      returned();
      return { writes: [countApplication(id, tableName)] };
    });
    const id = randomUUID();
    const { event } = await received(pair, { id }, { correlationId: id });
    expect((await consumer.processBatch(event, { getRemainingTimeInMillis: () => 1000 })).batchItemFailures).toHaveLength(1);

    // WHEN its handler returns after the deadline
    release();
    await handlerReturned;

    // THEN no commit follows it (a commit is one call, made at once: a second is a hundred times what it takes)
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await appliedCount(id)).toBeUndefined();
    expect((await lifecycle(id))?.status).not.toBe('succeeded');
  });

  it('gives back the lease of an outside effect cut off between its claim and its handler, so its redelivery runs it at once', async () => {
    // GIVEN an outside effect whose claim answers only after the batch deadline (a busy machine, a slow call)
    let claimAnswered!: () => void;
    const claimHeld = new Promise<void>((resolve) => (claimAnswered = resolve));
    const slowClaims = new Proxy(harness.dynamo, {
      get: (target, property) =>
        property === 'send'
          ? async (command: { input: { UpdateExpression?: string } }) => {
              const answer = await target.send(command as never);
              if (command.input.UpdateExpression?.includes(':inProgress')) await claimHeld;
              return answer;
            }
          : Reflect.get(target, property),
    });
    let effects = 0;
    const { pair, consumer } = await consumerFor({ effect: 'outside', timeoutSeconds: 5, leaseSeconds: 600 }, async () => {
      effects += 1;
      return {};
    }, { clients: { sqs: harness.sqs, dynamo: slowClaims } });
    const id = randomUUID();
    const { event } = await received(pair, { id }, { correlationId: id });
    expect((await consumer.processBatch(event, { getRemainingTimeInMillis: () => 1000 })).batchItemFailures).toHaveLength(1);

    // WHEN the claim answers after the batch has answered
    claimAnswered();

    // THEN the handler never ran, and the lease, held for ten minutes, is given back, the attempt not counted
    const released = await eventually(() => lifecycle(id), (record) => record?.status === 'retrying');
    expect(released).toMatchObject({ attempts: 0, reason: expect.stringMatching(/^cut off at the batch deadline before its handler ran/) });
    expect(released!.leaseUntil).toBeUndefined();
    expect(effects).toBe(0);
    // AND its redelivery runs the effect at once, where it would have stepped back for the lease's ten minutes
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    expect(effects).toBe(1);
    expect(await lifecycle(id)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});

describe.concurrent('Function: LifecycleStore, an SDK retry after an unseen commit', () => {
  /** A store whose client loses the first answer of `commandName` after DynamoDB applied the call: the SDK retries it. */
  function lossyStore(commandName: string) {
    const raw = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: harness.dynamoEndpoint, maxAttempts: 3 });
    const calls: string[] = [];
    let answersDropped = 0;
    raw.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(context.commandName!);
        const result = await next(args);
        if (context.commandName === commandName && answersDropped === 0) {
          answersDropped += 1;
          throw Object.assign(new Error('the connection closed before the answer came'), { name: 'TimeoutError' });
        }
        return result;
      },
      { step: 'deserialize', name: 'dropFirstAnswer' },
    );
    return { store: new LifecycleStore(DynamoDBDocumentClient.from(raw), harness.lifecycleTableName), calls, answersDropped: () => answersDropped, destroy: () => raw.destroy() };
  }

  it('answers the retry with the first commit instead of calling it a duplicate', async () => {
    const lossy = lossyStore('TransactWriteItemsCommand');
    const correlationId = randomUUID();

    const result = await lossy.store.commit({ correlationId, channel: 'tests', messageId: 'm', attempt: 1 }, [countApplication(correlationId, harness.tableName)], null, Date.now());

    expect(lossy.answersDropped()).toBe(1);
    expect(result).toBe('committed');
    expect(await appliedCount(correlationId)).toBe(1);
    lossy.destroy();
  });

  it('commits a record with no writes as one UpdateItem, and answers its retry with that commit', async () => {
    const lossy = lossyStore('UpdateItemCommand');
    const correlationId = randomUUID();
    const id = { correlationId, channel: 'tests', messageId: 'm', attempt: 1 };

    const now = Date.now();
    const result = await lossy.store.commit(id, [], { answer: 42 }, now);

    expect(lossy.answersDropped()).toBe(1);
    expect(result).toBe('committed');
    expect(lossy.calls).toStrictEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', reply: { answer: 42 }, attempts: 1 });
    // Another delivery of the same message is a duplicate all the same, even in the same millisecond.
    expect(await store().commit({ ...id, attempt: 2 }, [], { answer: 43 }, now)).toBe('duplicate');
    expect(await lifecycle(correlationId)).toMatchObject({ reply: { answer: 42 }, attempts: 1 });
    lossy.destroy();
  });

  it('completes a claim with no writes as one UpdateItem, and not once another delivery holds the lease', async () => {
    const correlationId = randomUUID();
    const id = { correlationId, channel: 'tests', messageId: 'm', attempt: 1 };
    const now = Date.now();
    const first = await store().claim(id, 6, now);
    const takeover = await store().claim({ ...id, attempt: 2 }, 6, now + 7000);
    if (first.outcome !== 'claimed' || takeover.outcome !== 'claimed') throw new Error('both claims should have held');

    expect(await store().complete(id, first.token, [], null, now + 7001)).toBe(false);
    const lossy = lossyStore('UpdateItemCommand');
    expect(await lossy.store.complete({ ...id, attempt: 2 }, takeover.token, [], 'done', now + 7002)).toBe(true);

    expect(lossy.calls).toStrictEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', reply: 'done' });
    expect(await lifecycle(correlationId)).not.toHaveProperty('leaseToken');
    lossy.destroy();
  });
});
