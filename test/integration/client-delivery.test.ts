import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  type Message,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { GetMetricStatisticsCommandInput } from '@aws-sdk/client-cloudwatch';
import { channelStats, MessagingClient, peekDeadLetters, previewRedrive, redriveDeadLetters, renderRedrivePreview, type AwsClientConfig } from '../../lib/client/index.ts';
import { defineChannel, foldAttributes, LifecycleKeys, MessageAttribute, OutputKey } from '../../lib/policy/index.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { GuaranteedConsumer } from '../../functions/runtime/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());

const schema = z.object({ id: z.string(), padding: z.string().optional() });

/** A MessagingClient on the harness's fauxqs, its one channel on the given queues (named as the stack's outputs name them). */
async function clientFor(channel: ReturnType<typeof defineChannel>, queues: { queueUrl: string; deadLetterQueueUrl?: string }, clientConfig?: AwsClientConfig) {
  const endpoint = await harness.sqs.config.endpoint!();
  const sqs = `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;
  const outputs: Record<string, string> = { [OutputKey.queueUrl(channel.name)]: queues.queueUrl, [OutputKey.stateTableName]: harness.tableName, [OutputKey.lifecycleTableName]: harness.lifecycleTableName };
  if (queues.deadLetterQueueUrl) outputs[OutputKey.deadLetterQueueUrl(channel.name)] = queues.deadLetterQueueUrl;
  const client = new MessagingClient(
    { target: 'local', region: LOCAL_REGION, endpoints: { sqs, dynamodb: harness.dynamoEndpoint }, credentials: { ...LOCAL_CREDENTIALS }, outputs },
    { [channel.name]: channel },
    clientConfig,
  );
  clients.push(client);
  return client;
}
const clients: MessagingClient[] = [];
afterAll(() => clients.forEach((client) => client.destroy()));

/** Every message on a queue, each received once (kept invisible so none is counted twice); stops at the first empty receive. */
async function drain(queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await harness.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 120, WaitTimeSeconds: 1, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

async function depth(queueUrl: string): Promise<number> {
  const { Attributes } = await harness.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** A lifecycle record as the runtime would have left it, written straight to the harness's table. */
const putLifecycleRecord = (channel: string, correlationId: string, item: object) =>
  harness.dynamo.send(new PutCommand({ TableName: harness.lifecycleTableName, Item: { [LifecycleKeys.partitionKey]: LifecycleKeys.of(channel, correlationId), channel, correlationId, history: [], ...item } }));

const correlationIdOf = (message: Message) => message.MessageAttributes?.[MessageAttribute.correlationId]?.StringValue;

describe('Function: redriveDeadLetters by hand (receive → send → delete)', () => {
  it('brings a FIFO dead letter back even though the source queue saw its deduplication id minutes ago', async () => {
    // GIVEN a FIFO message that SQS's redrive policy moved to the DLQ: the DLQ copy keeps the deduplication id
    // (the correlation id) that the source queue recorded when the message was first sent, 5 minutes not yet past.
    const channel = defineChannel('fifoOrders', { policy: { kind: 'guaranteed', fifo: true }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 1, fifo: true });
    const client = await clientFor(channel, pair);
    const { correlationId } = await client.send('fifoOrders', { id: 'poison' }, { groupId: 'customer-7' });
    const { Messages: [first] = [] } = await harness.sqs.send(new ReceiveMessageCommand({ QueueUrl: pair.queueUrl, WaitTimeSeconds: 1 }));
    expect(first).toBeDefined();
    await harness.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: pair.queueUrl, ReceiptHandle: first!.ReceiptHandle!, VisibilityTimeout: 0 }));
    expect(await harness.receive(pair.queueUrl, 1)).toStrictEqual([]); // the second receive exceeds maxReceiveCount: moved to the DLQ
    expect(await depth(pair.deadLetterQueueUrl)).toBe(1);

    // WHEN it is redriven
    const result = await redriveDeadLetters(client, 'fifoOrders');

    // THEN it is on the source queue again, in its group, with its correlation id; and gone from the DLQ
    expect(result).toMatchObject({ moved: 1, failed: 0, mechanism: 'receive-send-delete' });
    const back = await harness.receive(pair.queueUrl, 1);
    expect(back.map((message) => ({ correlationId: correlationIdOf(message), group: message.Attributes?.MessageGroupId, body: message.Body }))).toStrictEqual([
      { correlationId, group: 'customer-7', body: JSON.stringify({ id: 'poison' }) },
    ]);
    expect(await depth(pair.deadLetterQueueUrl)).toBe(0);
  });

  it("brings a copy whose sender's attributes the runtime folded back with them unfolded, and without the reason", async () => {
    // GIVEN a copy as the runtime writes one for a message of ten attributes: nine of the sender's folded into one
    const channel = defineChannel('folded', { policy: { kind: 'guaranteed' }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(channel, pair);
    const sent = Object.fromEntries(Array.from({ length: 9 }, (_, n) => [`attribute${n}`, { DataType: 'String', StringValue: `value ${n}` }]));
    await harness.sqs.send(new SendMessageCommand({
      QueueUrl: pair.deadLetterQueueUrl,
      MessageBody: JSON.stringify({ id: 'x' }),
      MessageAttributes: {
        [MessageAttribute.correlationId]: { DataType: 'String', StringValue: 'c-folded' },
        [MessageAttribute.foldedAttributes]: { DataType: 'String', StringValue: foldAttributes(sent) },
        [MessageAttribute.deadLetterReason]: { DataType: 'String', StringValue: 'account closed' },
        [MessageAttribute.deadLetterAttempts]: { DataType: 'Number', StringValue: '1' },
      },
    }));
    // WHEN it is redriven THEN the message is back as it was sent
    expect(await redriveDeadLetters(client, 'folded')).toMatchObject({ moved: 1, failed: 0 });
    const [back] = await harness.receive(pair.queueUrl, 1);
    expect(Object.fromEntries(Object.entries(back!.MessageAttributes!).map(([name, value]) => [name, value.StringValue]))).toStrictEqual({
      ...Object.fromEntries(Object.entries(sent).map(([name, value]) => [name, value.StringValue])),
      [MessageAttribute.correlationId]: 'c-folded',
    });
  });

  it('returns while a live consumer keeps dead-lettering what it moves, moving only what was there when it started', async () => {
    // GIVEN three dead letters, and a consumer that dead-letters every message the redrive puts on the source queue
    // at once (it runs in step with the redrive's sends, so the DLQ is never seen empty). It gives up after 50
    // bounces so that a redrive that does not stop still returns, with a count that shows it.
    const channel = defineChannel('poison', { policy: { kind: 'guaranteed' }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(channel, pair);
    const correlationIds = [randomUUID(), randomUUID(), randomUUID()];
    for (const correlationId of correlationIds) {
      await harness.send(pair.deadLetterQueueUrl, { id: correlationId }, { correlationId, attributes: { [MessageAttribute.deadLetterReason]: 'poison' } });
    }
    let bounces = 0;
    client.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        const input = args.input as { QueueUrl?: string };
        if (context.commandName === 'SendMessageCommand' && input.QueueUrl === pair.queueUrl) {
          for (const message of await harness.receive(pair.queueUrl, 1)) {
            if (bounces >= 50) break;
            bounces += 1;
            await harness.send(pair.deadLetterQueueUrl, message.Body!, { correlationId: correlationIdOf(message), attributes: { [MessageAttribute.deadLetterReason]: 'poison again' } });
            await harness.sqs.send(new DeleteMessageCommand({ QueueUrl: pair.queueUrl, ReceiptHandle: message.ReceiptHandle! }));
          }
        }
        return output;
      },
      { step: 'initialize', name: 'liveConsumerThatDeadLetters' },
    );

    // WHEN the redrive runs
    const result = await redriveDeadLetters(client, 'poison');

    // THEN it moved the three it found and returned; the three the consumer dead-lettered again wait for a later redrive
    expect(result).toStrictEqual({ moved: 3, failed: 0, remaining: 3, mechanism: 'receive-send-delete' });
    expect(bounces).toBe(3);
    const left = await drain(pair.deadLetterQueueUrl);
    expect(left.map(correlationIdOf).sort()).toStrictEqual([...correlationIds].sort());
    expect(await depth(pair.queueUrl)).toBe(0);
  });
});

describe('Function: redriveDeadLetters, chosen and edited', () => {
  it('moves only the dead letters named, deletes the one already applied, and leaves the others in the DLQ, visible', async () => {
    // GIVEN three dead letters: one whose effect is applied (its record says so), two not
    const channel = defineChannel('chosen', { policy: { kind: 'guaranteed' }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(channel, pair);
    const [applied, wanted, left] = ['applied', 'wanted', 'left'].map((id) => `c-${id}-${randomUUID().slice(0, 8)}`);
    for (const correlationId of [applied!, wanted!, left!]) {
      await harness.send(pair.deadLetterQueueUrl, { id: correlationId }, { correlationId, attributes: { [MessageAttribute.deadLetterReason]: 'poison' } });
    }
    await putLifecycleRecord('chosen', applied!, { status: 'succeeded', attempts: 1 });

    // WHEN the applied one and one other are redriven, skipping what is applied, and one not in the DLQ is named too
    const result = await redriveDeadLetters(client, 'chosen', { only: [applied!, wanted!, 'c-nowhere'], skipApplied: true, perSecond: 1000 });

    // THEN one moved, one deleted as applied, the unknown id reported; the third is in the DLQ and can be received now
    expect(result).toStrictEqual({ moved: 1, failed: 0, skipped: 1, remaining: 1, notFound: ['c-nowhere'], mechanism: 'receive-send-delete' });
    expect((await harness.receive(pair.queueUrl, 1)).map(correlationIdOf)).toStrictEqual([wanted]);
    expect((await harness.receive(pair.deadLetterQueueUrl, 1)).map(correlationIdOf)).toStrictEqual([left]);
  });

  it('sends one dead letter back with an edited body and its correlation id, and refuses an edit its schema would refuse', async () => {
    // GIVEN a dead letter whose body broke the schema
    const channel = defineChannel('edited', { policy: { kind: 'guaranteed' }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(channel, pair);
    await harness.send(pair.deadLetterQueueUrl, { id: 7 }, { correlationId: 'c-edited', attributes: { [MessageAttribute.deadLetterReason]: 'id: expected string' } });

    // WHEN an edit that still breaks it is asked for THEN nothing moves
    await expect(redriveDeadLetters(client, 'edited', { only: ['c-edited'], body: '{"id":8}' })).rejects.toThrow(/would be dead-lettered again at once: schema violation: id/);
    expect(await depth(pair.deadLetterQueueUrl)).toBe(1);

    // WHEN a good edit is THEN the message goes back with it, under its correlation id, and the DLQ is empty
    expect(await redriveDeadLetters(client, 'edited', { only: ['c-edited'], body: '{"id":"8"}' })).toMatchObject({ moved: 1, remaining: 0 });
    const [back] = await harness.receive(pair.queueUrl, 1);
    expect({ body: back?.Body, correlationId: back && correlationIdOf(back) }).toStrictEqual({ body: '{"id":"8"}', correlationId: 'c-edited' });
  });
});

describe('Function: peekDeadLetters', () => {
  it("explains, from its lifecycle record, each dead letter the queue's redrive policy moved without a reason", async () => {
    // GIVEN four messages SQS moved to the DLQ after their last receive, so without a reason, and one runtime copy
    const channel = defineChannel('moved', { policy: { kind: 'guaranteed' }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 1 });
    const client = await clientFor(channel, pair);
    const [withOutbox, applied, failing, unseen] = await Promise.all(['a', 'b', 'c', 'd'].map(async (id) => (await client.send('moved', { id })).correlationId));
    await putLifecycleRecord('moved', withOutbox!, { status: 'succeeded', attempts: 1, outbox: [{ kind: 'channel', target: 'invoices', body: '{}' }, { kind: 'channel', target: 'invoices', body: '{}' }] });
    await putLifecycleRecord('moved', applied!, { status: 'succeeded', attempts: 1 });
    await putLifecycleRecord('moved', failing!, { status: 'retrying', attempts: 3, reason: 'payment service unavailable' });
    await eventually(async () => {
      await harness.sqs.send(new ReceiveMessageCommand({ QueueUrl: pair.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
      return depth(pair.deadLetterQueueUrl);
    }, (moved) => moved === 4);
    await harness.sqs.send(new SendMessageCommand({
      QueueUrl: pair.deadLetterQueueUrl,
      MessageBody: JSON.stringify({ id: 'e' }),
      MessageAttributes: { [MessageAttribute.deadLetterReason]: { DataType: 'String', StringValue: 'account closed' } },
    }));

    // WHEN they are peeked
    const letters = await peekDeadLetters(client, 'moved', 10);

    // THEN each says what became of it, and so what its redrive will do
    const reasonOf = (correlationId: string | undefined) => letters.find((letter) => letter.correlationId === correlationId)?.reason;
    const moved = "no reason attached: the queue's redrive policy moved it after its last receive";
    expect(reasonOf(withOutbox)).toBe(`${moved}; its effect is applied, and 2 onward messages were not yet sent: a redrive sends them, applying nothing again`);
    expect(reasonOf(applied)).toBe(`${moved}; its effect is applied: a redrive skips it as a duplicate`);
    expect(reasonOf(failing)).toBe(`${moved}, after 3 recorded attempts, the last failing with: payment service unavailable`);
    expect(reasonOf(unseen)).toBe(`${moved}, and no attempt of it was recorded (each one timed out or crashed before its end)`);
    expect(reasonOf(undefined)).toBe('account closed');
    expect(await depth(pair.deadLetterQueueUrl)).toBe(5);
  });
});

describe('Function: previewRedrive', () => {
  it('says what a redrive would do with each dead letter, moving nothing', async () => {
    // GIVEN dead letters of four fates: applied meanwhile, applied with its outbox unsent, a body the schema refuses,
    // and one that failed for good reason and will be tried again
    const channel = defineChannel('previewed', { policy: { kind: 'guaranteed' }, schema });
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(channel, pair);
    const letter = (correlationId: string, body: string) =>
      harness.sqs.send(new SendMessageCommand({
        QueueUrl: pair.deadLetterQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId },
          [MessageAttribute.deadLetterReason]: { DataType: 'String', StringValue: 'gave up after 5 attempts: Error: down' },
        },
      }));
    const [applied, unsent, malformed, failed] = ['applied', 'unsent', 'malformed', 'failed'].map((name) => `${name}-${randomUUID().slice(0, 8)}`);
    await Promise.all([
      letter(applied!, '{"id":"a"}'),
      letter(unsent!, '{"id":"b"}'),
      letter(malformed!, '{"id":42}'),
      letter(failed!, '{"id":"d"}'),
      putLifecycleRecord('previewed', applied!, { status: 'succeeded', attempts: 5 }),
      putLifecycleRecord('previewed', unsent!, { status: 'succeeded', attempts: 5, outbox: [{ kind: 'channel', target: 'invoices', body: '{}' }] }),
      putLifecycleRecord('previewed', failed!, { status: 'dead-lettered', attempts: 5, reason: 'gave up after 5 attempts: Error: down' }),
    ]);

    // WHEN the redrive is previewed
    const preview = await previewRedrive(client, 'previewed');

    // THEN each says its fate, and all four are still in the DLQ
    expect(Object.fromEntries(preview.letters.map((each) => [each.correlationId, each.verdict]))).toStrictEqual({
      [applied!]: 'duplicate',
      [unsent!]: 'finishes-outbox',
      [malformed!]: 'fails-schema',
      [failed!]: 'retried',
    });
    expect(preview.counts).toStrictEqual({ duplicate: 1, 'finishes-outbox': 1, 'fails-schema': 1, retried: 1 });
    expect(preview.letters.find((each) => each.correlationId === malformed)!.why).toMatch(/^dead-lettered again at once: schema violation: id: /);
    expect(await depth(pair.deadLetterQueueUrl)).toBe(4);
    expect(renderRedrivePreview(preview).split('\n')[0]).toBe(
      'previewed: 4 dead letters read; a redrive would retry 1, skip 1 already applied, finish the outbox of 1, and dead-letter 1 again at once',
    );
  });
});

describe("Function: redriveDeadLetters by SQS's move task", () => {
  const channel = defineChannel('moved', { policy: { kind: 'guaranteed' }, schema });

  /** A client whose SQS answers the move-task calls as given (SQS's own, which fauxqs has not) and the rest as fauxqs does. */
  async function clientAnswering(moveTasks: { start: () => object; list: () => object }) {
    const client = await clientFor(channel, await harness.queuePair({ maxReceiveCount: 2 }));
    client.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartMessageMoveTaskCommand') return { output: { $metadata: {}, ...moveTasks.start() }, response: {} };
        if (context.commandName === 'ListMessageMoveTasksCommand') return { output: { $metadata: {}, ...moveTasks.list() }, response: {} };
        return next(args);
      },
      { step: 'initialize', name: 'sqsMoveTasks' },
    );
    return client;
  }

  it('counts as failed what a failed task did not move, by its own task, and says why', async () => {
    // GIVEN a task that moves 2 of 5 and fails, listed at first not at all (an older, finished task of another
    // redrive is), then running, then finished, when SQS lists it without its handle
    const older = { Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 40, StartedTimestamp: Date.now() - 3_600_000 };
    const lists = [
      { Results: [older] },
      { Results: [{ TaskHandle: 'task-2', Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 1, ApproximateNumberOfMessagesToMove: 5 }, older] },
      { Results: [{ Status: 'FAILED', ApproximateNumberOfMessagesMoved: 2, ApproximateNumberOfMessagesToMove: 5, FailureReason: 'AWS.SimpleQueueService.NonExistentQueue', StartedTimestamp: Date.now() }, older] },
    ];
    const client = await clientAnswering({ start: () => ({ TaskHandle: 'task-2' }), list: () => lists.shift()! });

    // WHEN the redrive runs
    const result = await redriveDeadLetters(client, 'moved');

    // THEN three failed, and the reason is kept
    expect(result).toStrictEqual({ moved: 2, failed: 3, remaining: 0, mechanism: 'StartMessageMoveTask', failureReason: 'AWS.SimpleQueueService.NonExistentQueue' });
  });

  it('reports a refused move task instead of moving the messages another way', async () => {
    // GIVEN an endpoint that has the move-task API and refuses this one, with a 404 in its words
    const refusal = Object.assign(new Error('User is not authorized to perform sqs:StartMessageMoveTask (request 404-7)'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    const client = await clientAnswering({ start: () => { throw refusal; }, list: () => ({}) });

    // WHEN the redrive runs, THEN the refusal is the answer, and nothing was moved by hand
    await expect(redriveDeadLetters(client, 'moved')).rejects.toThrow(/not authorized/);
  });
});

describe('Function: MessagingClient.sendBatch, partial failure', () => {
  const payloads = [{ id: 'a' }, { id: 'b', padding: 'x'.repeat(2_000) }, { id: 'c' }];

  /** A queue that refuses messages over 1 KiB, entry by entry, as SQS does a message over the queue's MaximumMessageSize. */
  async function smallMessageQueue() {
    const { QueueUrl } = await harness.sqs.send(new CreateQueueCommand({ QueueName: `small-${randomUUID().slice(0, 8)}`, Attributes: { MaximumMessageSize: '1024' } }));
    const channel = defineChannel('events', { policy: { kind: 'guaranteed' }, schema });
    return { queueUrl: QueueUrl!, client: await clientFor(channel, { queueUrl: QueueUrl! }) };
  }

  it('returns the acknowledgements of the accepted messages with the rejected ones, so only those are sent again, under the same keys', async () => {
    // GIVEN a batch whose second message the queue refuses
    const { queueUrl, client } = await smallMessageQueue();

    // WHEN it is sent
    const { accepted, rejected } = await client.sendBatch('events', payloads);

    // THEN the result says which were accepted and which were not, with their correlation ids
    expect(accepted.map(({ channel, index }) => ({ channel, index }))).toStrictEqual([
      { channel: 'events', index: 0 },
      { channel: 'events', index: 2 },
    ]);
    expect(rejected).toStrictEqual([{ index: 1, correlationId: expect.any(String), code: 'InvalidParameterValue', message: expect.stringMatching(/shorter than 1024 bytes/) }]);

    // AND WHEN the caller makes room and resends only the rejected one under its key
    await harness.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { MaximumMessageSize: '262144' } }));
    const [refused] = rejected;
    const resent = await client.send('events', payloads[refused!.index]!, { idempotencyKey: refused!.correlationId });

    // THEN the queue holds each message once, each under the correlation id it was first given
    const onQueue = await drain(queueUrl);
    const byCorrelationId = Object.fromEntries(onQueue.map((message) => [correlationIdOf(message), JSON.parse(message.Body!).id]));
    const [first, third] = accepted;
    expect(byCorrelationId).toStrictEqual({ [first!.correlationId]: 'a', [resent.correlationId]: 'b', [third!.correlationId]: 'c' });
    expect(resent.correlationId).toBe(refused!.correlationId);
  });

  it('sends an entry SQS failed on its side once more, with the same correlation id, before giving up', async () => {
    // GIVEN SQS fails the second entry of the first SendMessageBatch on its side (SenderFault false). fauxqs never
    // marks a failure so, so a test-only middleware makes the emulator refuse the entry for real (a character SQS
    // does not accept) and marks that refusal as SQS's own fault; the next attempt goes through untouched.
    const { queueUrl, client } = await smallMessageQueue();
    const attempts: SendMessageBatchCommandInput[] = [];
    client.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        const input = args.input as SendMessageBatchCommandInput;
        attempts.push(structuredClone(input));
        if (attempts.length > 1) return next(args);
        const spoiled = { ...input, Entries: input.Entries!.map((entry) => (entry.Id === '1' ? { ...entry, MessageBody: `${entry.MessageBody}\u0000` } : entry)) };
        const result = await next({ ...args, input: spoiled });
        const output = result.output as SendMessageBatchCommandOutput;
        for (const failure of output.Failed ?? []) failure.SenderFault = false;
        return result;
      },
      { step: 'initialize', name: 'serverSideFailureOnce' },
    );
    const fitting = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];

    // WHEN the batch is sent
    const { accepted: acknowledgements, rejected } = await client.sendBatch('events', fitting);
    expect(rejected).toStrictEqual([]);

    // THEN every message is acknowledged; the retry carried only the failed entry, under its first correlation id
    expect(attempts).toHaveLength(2);
    const correlationIdsOf = (input: SendMessageBatchCommandInput) => input.Entries!.map((entry) => entry.MessageAttributes![MessageAttribute.correlationId]!.StringValue);
    expect(correlationIdsOf(attempts[1]!)).toStrictEqual([correlationIdsOf(attempts[0]!)[1]]);
    expect(acknowledgements.map((acknowledgement) => acknowledgement.correlationId)).toStrictEqual(correlationIdsOf(attempts[0]!));
    const onQueue = await drain(queueUrl);
    expect(onQueue.map(correlationIdOf).sort()).toStrictEqual([...correlationIdsOf(attempts[0]!)].sort());
  });

  it("does not send again a FIFO entry SQS failed on its side once a later one of its group was accepted: it would come after it", async () => {
    // GIVEN SQS fails the first of a group's two entries on its side (as above) and accepts the second
    const pair = await harness.queuePair({ maxReceiveCount: 5, fifo: true });
    const client = await clientFor(defineChannel('fifoEvents', { policy: { kind: 'guaranteed', fifo: true }, schema }), pair);
    let batches = 0;
    client.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        batches += 1;
        const input = args.input as SendMessageBatchCommandInput;
        const spoiled = { ...input, Entries: input.Entries!.map((entry) => (entry.Id === '0' ? { ...entry, MessageBody: `${entry.MessageBody}\u0000` } : entry)) };
        const result = await next({ ...args, input: spoiled });
        for (const failure of (result.output as SendMessageBatchCommandOutput).Failed ?? []) failure.SenderFault = false;
        return result;
      },
      { step: 'initialize', name: 'serverSideFailureOfTheFirst' },
    );

    // WHEN the batch is sent in one group
    const { accepted, rejected } = await client.sendBatch('fifoEvents', [{ id: 'first' }, { id: 'second' }], { groupId: 'customer-1' });

    // THEN the first is reported, not sent behind the second; the caller decides what the group's order needs
    expect(batches).toBe(1);
    expect(accepted.map((acknowledgement) => acknowledgement.index)).toStrictEqual([1]);
    expect(rejected).toStrictEqual([{ index: 0, correlationId: expect.any(String), code: expect.any(String), message: expect.stringMatching(/not sent again: a later message of its FIFO group was accepted/) }]);
    expect((await drain(pair.queueUrl)).map((message) => JSON.parse(message.Body!).id)).toStrictEqual(['second']);
  });

  it("refuses a batch past SQS's 1 MiB together, naming the limit, and sends none of it", async () => {
    // GIVEN five messages that each fit the channel (256 KiB) and together pass SQS's limit for a batch
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(defineChannel('events', { policy: { kind: 'guaranteed' }, schema }), pair);
    const large = Array.from({ length: 5 }, (_, index) => ({ id: String(index), padding: 'x'.repeat(220_000) }));

    // WHEN it is sent, THEN the SDK refuses it whole, and the queue holds nothing
    await expect(client.sendBatch('events', large)).rejects.toThrow(/^events: the batch is \d+ bytes, over SQS's limit for a batch's messages together \(1048576\); send fewer at once$/);
    await expect(client.sendBatch('events', large)).rejects.toMatchObject({ name: 'MessageTooLarge' });
    expect(await depth(pair.queueUrl)).toBe(0);
  });
});

describe('Function: MessagingClient, by the AWS SDK v3 conventions', () => {
  const events = defineChannel('events', { policy: { kind: 'guaranteed' }, schema });

  it('passes the caller\'s client configuration to the AWS SDK clients it makes', async () => {
    // GIVEN a logger in the configuration, which every v3 client logs its commands to
    const logged: { commandName?: string }[] = [];
    const logger = { debug: () => {}, info: (entry: { commandName?: string }) => logged.push(entry), warn: () => {}, error: () => {} };
    const client = await clientFor(events, await harness.queuePair({ maxReceiveCount: 5 }), { logger, maxAttempts: 2 });
    // WHEN it sends THEN the SQS client it made logged the send to that logger, and retries as configured
    await client.send('events', { id: 'a' });
    expect(logged.map((entry) => entry.commandName)).toContain('SendMessageCommand');
    expect(await client.sqs.config.maxAttempts()).toBe(2);
  });

  it('gives up a call whose abortSignal fires, sending nothing', async () => {
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(events, pair);
    const aborted = AbortSignal.abort();
    await expect(client.send('events', { id: 'a' }, { abortSignal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(client.sendBatch('events', [{ id: 'b' }], { abortSignal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await depth(pair.queueUrl)).toBe(0);
  });

  it('stops awaiting a reply when its abortSignal fires, long before maxWaitTime', async () => {
    const replying = defineChannel('replying', { policy: { kind: 'guaranteed', reply: true }, schema });
    const client = await clientFor(replying, await harness.queuePair({ maxReceiveCount: 5 }));
    const { correlationId } = await client.send('replying', { id: 'never-consumed' });
    const controller = new AbortController();
    // The signal fires as the first read of the (absent) record comes back, so it lands on the wait before the next.
    let reads = 0;
    client.dynamo.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        reads += 1;
        controller.abort();
        return result;
      },
      { step: 'initialize', name: 'abortAfterFirstRead' },
    );
    await expect(client.awaitReply(correlationId, { maxWaitTime: 600, abortSignal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(reads).toBe(1);
  });

  it('sends under the caller\'s idempotency key: it is the correlation id, and FIFO\'s deduplication id', async () => {
    const pair = await harness.queuePair({ maxReceiveCount: 5, fifo: true });
    const fifoEvents = defineChannel('fifoEvents', { policy: { kind: 'guaranteed', fifo: true }, schema });
    const client = await clientFor(fifoEvents, pair);
    const first = await client.send('fifoEvents', { id: 'a' }, { idempotencyKey: 'invoice-42' });
    const again = await client.send('fifoEvents', { id: 'a' }, { idempotencyKey: 'invoice-42' });
    expect([first.correlationId, again.correlationId]).toStrictEqual(['invoice-42', 'invoice-42']);
    // SQS dropped the second as a duplicate within its deduplication window
    const onQueue = await drain(pair.queueUrl);
    expect(onQueue.map(correlationIdOf)).toStrictEqual(['invoice-42']);
    expect(onQueue[0]!.Attributes?.MessageDeduplicationId).toBe('invoice-42');
    const batch = await client.sendBatch('fifoEvents', [{ id: 'x' }, { id: 'y' }], { idempotencyKeyOf: (_payload, index) => `event-${index}` });
    expect(batch.accepted.map((ack) => ack.correlationId)).toStrictEqual(['event-0', 'event-1']);
  });

  it('tells a queued message from an unknown id and from one a fire-and-forget channel does not track', async () => {
    // GIVEN a message on a queue no consumer reads
    const client = await clientFor(events, await harness.queuePair({ maxReceiveCount: 5 }));
    const acknowledgement = await client.send('events', { id: 'waiting' });
    // THEN with its acknowledgement it is queued; by its id alone nothing can say more than unknown
    expect(await client.status(acknowledgement)).toStrictEqual([{ status: 'queued', correlationId: acknowledgement.correlationId, channel: 'events' }]);
    expect(await client.status(acknowledgement.correlationId)).toStrictEqual([{ status: 'unknown', correlationId: acknowledgement.correlationId }]);
    // AND a fire-and-forget channel answers without a read that it keeps no record
    const notices = defineChannel('notices', { policy: { kind: 'fire-and-forget', timeToLiveSeconds: 60 }, schema });
    const withNotices = new MessagingClient(client.discovered, { events, notices });
    clients.push(withNotices);
    expect(await withNotices.status('any-id', { channel: 'notices' })).toStrictEqual([{ status: 'not-tracked', correlationId: 'any-id', channel: 'notices' }]);
    await expect(withNotices.awaitReply('any-id', { channel: 'notices' as never })).rejects.toMatchObject({ code: 'WRONG_POLICY' });
  });

  it('reads the oldest message\'s age from CloudWatch where there is one', async () => {
    // GIVEN a client for a target with CloudWatch, whose metric reads answer with two datapoints (the emulators
    // have no CloudWatch, so the answer is stubbed; what is checked is the request and what is made of the reply)
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const local = await clientFor(events, pair);
    const client = new MessagingClient({ ...local.discovered, target: 'localstack', endpoints: { ...local.discovered.endpoints, cloudwatch: 'http://127.0.0.1:9' } }, { events });
    clients.push(client);
    const requests: GetMetricStatisticsCommandInput[] = [];
    client.cloudWatch!.middlewareStack.add(
      () => async (args) => {
        requests.push(args.input as GetMetricStatisticsCommandInput);
        return { output: { Datapoints: [{ Maximum: 12 }, { Maximum: 40 }], $metadata: {} }, response: {} };
      },
      { step: 'initialize', name: 'cannedMetrics' },
    );
    // WHEN it reads the stats THEN the age is the highest datapoint of the channel's queue
    const [stats] = await channelStats(client);
    expect(stats).toMatchObject({ channel: 'events', oldestMessageAgeSeconds: 40, deadLetters: 0 });
    expect(requests).toStrictEqual([
      {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: pair.queueUrl.split('/').pop() }],
        Statistics: ['Maximum'],
        Period: 60,
        StartTime: expect.any(Date),
        EndTime: expect.any(Date),
      },
    ]);
  });

  it('refuses a key SQS would refuse, and two different values for the one key', async () => {
    const client = await clientFor(events, await harness.queuePair({ maxReceiveCount: 5 }));
    await expect(client.send('events', { id: 'a' }, { idempotencyKey: 'has space' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.send('events', { id: 'a' }, { idempotencyKey: 'x'.repeat(129) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.send('events', { id: 'a' }, { idempotencyKey: 'a', correlationId: 'b' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('Function: a schema with transforms, from the SDK through the consumer and back', () => {
  // Each side parses what it reads: the consumer the message's JSON, the SDK the stored reply. What travels is the
  // schema's input, so a transform runs once, where its output is wanted.
  const invoices = defineChannel('invoices', {
    policy: { kind: 'guaranteed', reply: true },
    schema: z.object({ amount: z.string().transform(Number) }),
    replySchema: z.object({ total: z.string().transform(Number) }),
  });

  it('applies a message whose schema transforms it, and hands back the reply transformed', async () => {
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const client = await clientFor(invoices, pair);
    const handled: unknown[] = [];
    const consumer = new GuaranteedConsumer({
      channel: invoices,
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo },
      handle: async ({ amount }) => {
        handled.push(amount);
        return { reply: { total: String(amount * 2) } };
      },
    });
    // WHEN the SDK sends the schema's input and the consumer takes it
    const ack = await client.send('invoices', { amount: '12' });
    const response = await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn));
    // THEN the handler saw the output once transformed, the message was applied, and the reply comes back as output
    expect(response).toStrictEqual({ batchItemFailures: [] });
    expect(handled).toStrictEqual([12]);
    expect(await client.awaitReply(ack)).toStrictEqual({ total: 24 });
    expect(await depth(pair.deadLetterQueueUrl)).toBe(0);
  });

  it('refuses at send a payload the schema accepts only before JSON', async () => {
    const dated = defineChannel('dated', { policy: { kind: 'guaranteed' }, schema: z.object({ at: z.date() }) });
    const client = await clientFor(dated, await harness.queuePair({ maxReceiveCount: 5 }));
    // A Date becomes a string in JSON, which the consumer's z.date() would refuse: dead-lettered, had it been sent.
    await expect(client.send('dated', { at: new Date() })).rejects.toMatchObject({ code: 'SCHEMA_VIOLATION' });
  });
});

describe('Function: status, awaitReply and request refuse what cannot be answered', () => {
  const first = defineChannel('first', { policy: { kind: 'guaranteed', reply: true }, schema });
  const second = defineChannel('second', { policy: { kind: 'guaranteed', reply: true }, schema });
  const silent = defineChannel('silent', { policy: { kind: 'guaranteed' }, schema });
  const quick = defineChannel('quick', { policy: { kind: 'request-response', deadlineMs: 1500 }, schema, replySchema: schema });
  const record = (channel: string, correlationId: string, extra: object = {}) =>
    putLifecycleRecord(channel, correlationId, { status: 'succeeded', reply: { id: channel }, attempts: 1, ...extra });

  it('refuses to await a reply from a channel that keeps none', async () => {
    const client = await clientFor(silent, await harness.queuePair({ maxReceiveCount: 5 }));
    await expect(client.awaitReply('x', { channel: 'silent' } as never)).rejects.toMatchObject({ code: 'WRONG_POLICY', message: expect.stringMatching(/silent keeps no replies/) });
    await expect(client.awaitReply('x')).rejects.toMatchObject({ code: 'WRONG_POLICY' });
  });

  it('refuses an id two channels have records for, where it cannot tell which reply is wanted', async () => {
    const client = new MessagingClient({ ...(await clientFor(first, await harness.queuePair({ maxReceiveCount: 5 }))).discovered }, { first, second });
    clients.push(client);
    const correlationId = randomUUID();
    await Promise.all([record('first', correlationId), record('second', correlationId)]);
    await expect(client.awaitReply(correlationId)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/first and second: give the channel/) });
    expect(await client.awaitReply(correlationId, { channel: 'second' })).toStrictEqual({ id: 'second' });
  });

  it('counts a record past its time to live as none, though DynamoDB has not deleted it yet', async () => {
    const client = await clientFor(first, await harness.queuePair({ maxReceiveCount: 5 }));
    const correlationId = randomUUID();
    await record('first', correlationId, { [LifecycleKeys.timeToLive]: Math.floor(Date.now() / 1000) - 60 });
    expect(await client.status(correlationId)).toStrictEqual([{ status: 'unknown', correlationId }]);
  });

  it("refuses a deadline past its responders' timeout, and one no timer can wait", async () => {
    const client = new MessagingClient({ ...(await clientFor(first, await harness.queuePair({ maxReceiveCount: 5 }))).discovered }, { quick });
    clients.push(client);
    for (const deadlineMs of [2001, 2 ** 31]) {
      await expect(client.request('quick', { id: 'x' }, { deadlineMs })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/up to its responders' timeout \(2000\)/) });
    }
  });
});
