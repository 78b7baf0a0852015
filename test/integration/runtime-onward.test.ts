import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FireAndForgetConsumer, GuaranteedConsumer } from '../../functions/runtime/index.ts';
import { onwardId } from '../../functions/runtime/onward.ts';
import { defineChannel, defineTopic, MessageAttribute, OutputKey, resolvePolicy } from '../../lib/policy/index.ts';
import { guaranteedFixture, schema } from '../helpers/guaranteed-fixture.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());
const { countApplication, appliedCount, lifecycle } = guaranteedFixture(harness);

const invoices = defineChannel('invoices', { policy: { kind: 'guaranteed' }, schema: z.object({ invoiceId: z.string() }) });
const orderBilled = defineTopic('orderBilled', { schema: z.object({ invoiceId: z.string() }) });

/** An SQS client whose sends to one queue fail the first `failures` times, as a process dying before them would leave it. */
function failingSendsTo(queueUrl: string, failures: number): SQSClient {
  let left = failures;
  return new Proxy(harness.sqs, {
    get: (target, property) =>
      property === 'send'
        ? (command: { input: { QueueUrl?: string } }) => {
            if (command instanceof SendMessageCommand && command.input.QueueUrl === queueUrl && left-- > 0) return Promise.reject(new Error('socket hang up'));
            return target.send(command as never);
          }
        : Reflect.get(target, property),
  });
}

/** A guaranteed consumer of a fresh channel whose handler applies its effect and sends an invoice on to `invoices`. */
async function billing(options: { sqs?: (invoicesUrl: string) => SQSClient; writes?: (id: string) => object[]; effect?: 'transactional' | 'outside' } = {}) {
  const policy = resolvePolicy('tests', { kind: 'guaranteed', backoffBaseSeconds: 1, effect: options.effect ?? 'transactional' });
  const [pair, downstream] = await Promise.all([harness.queuePair({ maxReceiveCount: policy.maxReceiveCount }), harness.queuePair({ maxReceiveCount: 20 })]);
  const consumer = new GuaranteedConsumer({
    channel: defineChannel('tests', { policy, schema }),
    policy,
    sendsTo: { invoices },
    outputs: { [OutputKey.queueUrl('invoices')]: downstream.queueUrl },
    handle: async ({ id }, { correlationId }) => ({
      writes: (options.writes?.(correlationId) ?? [countApplication(correlationId, harness.tableName)]) as never,
      send: [{ channel: 'invoices', payload: { invoiceId: `INV-${id}` } }],
    }),
    endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
    clients: { sqs: options.sqs?.(downstream.queueUrl) ?? harness.sqs, dynamo: harness.dynamo },
  });
  return { consumer, pair, downstream, policy };
}

describe.concurrent('Function: GuaranteedConsumer, onward messages', () => {
  it('sends on after the commit, under an id derived from its cause, with its flow and its cause', async () => {
    const { consumer, pair, downstream } = await billing();
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'a' }, { correlationId });

    expect(await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn))).toStrictEqual({ batchItemFailures: [] });

    const [sent] = await harness.receive(downstream.queueUrl, 1);
    const onwardCorrelationId = onwardId({ channel: 'tests', correlationId, flowId: correlationId }, 0);
    expect(JSON.parse(sent!.Body!)).toStrictEqual({ invoiceId: 'INV-a' });
    expect(sent!.MessageAttributes).toMatchObject({
      [MessageAttribute.correlationId]: { StringValue: onwardCorrelationId },
      [MessageAttribute.flowId]: { StringValue: correlationId },
      [MessageAttribute.causationId]: { StringValue: correlationId },
    });
    const record = await lifecycle(correlationId);
    expect(record).toMatchObject({ status: 'succeeded', flowId: correlationId, onward: [{ kind: 'channel', target: 'invoices', correlationId: onwardCorrelationId }] });
    expect(record!.outbox).toBeUndefined();
    expect(record!.history.map((event) => event.status)).toStrictEqual(['succeeded', 'sent-on']);
  });

  it('carries the trace context a message was sent in on to its onward messages, through SQS', async () => {
    const { consumer, pair, downstream } = await billing();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await harness.send(pair.queueUrl, { id: 't' }, { correlationId: randomUUID(), attributes: { [MessageAttribute.traceparent]: traceparent } });
    await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn));
    const [sent] = await harness.receive(downstream.queueUrl, 1);
    // No tracer provider in this process: the record's span records nothing and hands the sender's context on as it came
    expect(sent!.MessageAttributes?.[MessageAttribute.traceparent]?.StringValue).toBe(traceparent);
  });

  it('carries the flow on: a message sent on from an onward message keeps the first one’s flow, and names its own cause', async () => {
    const { consumer, pair, downstream } = await billing();
    const [flowId, causationId] = [randomUUID(), randomUUID()];
    await harness.send(pair.queueUrl, { id: 'b' }, { correlationId: causationId, attributes: { [MessageAttribute.flowId]: flowId, [MessageAttribute.causationId]: 'earlier' } });
    await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn));
    const [sent] = await harness.receive(downstream.queueUrl, 1);
    expect(sent!.MessageAttributes).toMatchObject({ [MessageAttribute.flowId]: { StringValue: flowId }, [MessageAttribute.causationId]: { StringValue: causationId } });
    expect(await lifecycle(causationId)).toMatchObject({ flowId, causationId: 'earlier' });
  });

  it('sends nothing on when the effect does not commit', async () => {
    const missing = { ConditionCheck: { TableName: harness.tableName, Key: { pk: `missing#${randomUUID()}`, sk: 'x' }, ConditionExpression: 'attribute_exists(pk)' } };
    const { consumer, pair, downstream } = await billing({ writes: () => [missing] });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'c' }, { correlationId });

    await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn));

    expect((await lifecycle(correlationId))?.status).not.toBe('succeeded');
    expect(await harness.receive(downstream.queueUrl, 1, 0)).toStrictEqual([]);
  });

  it.for(['transactional', 'outside'] as const)('keeps what it could not send in the outbox, and its next delivery sends it under the same id, applying nothing again (%s)', async (effect) => {
    const { consumer, pair, downstream } = await billing({ sqs: (invoicesUrl) => failingSendsTo(invoicesUrl, 1), effect });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'd' }, { correlationId });
    const event = harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn);

    // The commit stands and the send fails: the message comes back, its onward message kept in its record.
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', outbox: [{ target: 'invoices', body: '{"invoiceId":"INV-d"}' }] });
    expect(await harness.receive(downstream.queueUrl, 1, 0)).toStrictEqual([]);

    // Its next delivery is a duplicate of the effect, and sends what was left.
    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    const [sent] = await harness.receive(downstream.queueUrl, 1);
    expect(sent!.MessageAttributes![MessageAttribute.correlationId]!.StringValue).toBe(onwardId({ channel: 'tests', correlationId, flowId: correlationId }, 0));
    expect(await appliedCount(correlationId)).toBe(1);
    expect((await lifecycle(correlationId))!.outbox).toBeUndefined();
  });

  it('dead-letters a handler whose onward message breaks its target’s schema, or names a target it does not declare, applying nothing', async () => {
    const policy = resolvePolicy('tests', { kind: 'guaranteed' });
    const pair = await harness.queuePair({ maxReceiveCount: policy.maxReceiveCount });
    const outcomes = [{ send: [{ channel: 'invoices', payload: { invoiceId: 7 } }] }, { send: [{ channel: 'refunds', payload: {} }] }];
    const consumer = new GuaranteedConsumer({
      channel: defineChannel('tests', { policy, schema }),
      policy,
      sendsTo: { invoices },
      outputs: {},
      handle: async ({ id }, { correlationId }) => ({ writes: [countApplication(correlationId, harness.tableName)], ...(outcomes[Number(id)] as object) }),
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo },
    });
    const ids = [randomUUID(), randomUUID()];
    for (const [index, correlationId] of ids.entries()) await harness.send(pair.queueUrl, { id: String(index) }, { correlationId });

    await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 2), pair.queueArn));

    expect(await lifecycle(ids[0]!)).toMatchObject({ status: 'dead-lettered', reason: expect.stringMatching(/the handler's message to the channel invoices breaks its schema: invoiceId: /) });
    expect(await lifecycle(ids[1]!)).toMatchObject({ status: 'dead-lettered', reason: expect.stringMatching(/sends on to the channel refunds, which its consumer does not declare \(sendsTo\)/) });
    expect(await Promise.all(ids.map(appliedCount))).toStrictEqual([undefined, undefined]);
  });

  it.for(['transactional', 'outside'] as const)('dead-letters, with why, a message applied whose onward messages still fail on its last receive; its redrive sends them, applying nothing again (%s)', async (effect) => {
    const { consumer, pair, downstream, policy } = await billing({ sqs: (invoicesUrl) => failingSendsTo(invoicesUrl, 1), effect });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'e' }, { correlationId });
    const event = harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn);
    // Receives that timed out before this one used up all but the last: SQS's redrive would move it next, reasonless.
    event.Records[0]!.attributes.ApproximateReceiveCount = String(policy.maxReceiveCount);

    expect(await consumer.processBatch(event)).toStrictEqual({ batchItemFailures: [] });
    const [copy] = await harness.receive(pair.deadLetterQueueUrl, 1);
    expect(copy!.MessageAttributes![MessageAttribute.deadLetterReason]!.StringValue).toMatch(
      new RegExp(`^its effect is applied, but its onward messages could not all be sent by receive ${policy.maxReceiveCount} of ${policy.maxReceiveCount}; a redrive sends them.*socket hang up`),
    );
    expect(await lifecycle(correlationId)).toMatchObject({ status: 'succeeded', outbox: [{ target: 'invoices' }] });
    expect(await harness.receive(downstream.queueUrl, 1, 0)).toStrictEqual([]);

    // WHEN the copy is redriven THEN the invoice is sent and the order is not applied again
    expect(await consumer.processBatch(harness.event([copy!], pair.queueArn))).toStrictEqual({ batchItemFailures: [] });
    expect(await harness.receive(downstream.queueUrl, 1)).toHaveLength(1);
    expect(await appliedCount(correlationId)).toBe(1);
    expect((await lifecycle(correlationId))!.outbox).toBeUndefined();
  });

  it('publishes events to a topic after the commit, delivered to its subscribers with the flow', async () => {
    const { TopicArn } = await harness.sns.send(new CreateTopicCommand({ Name: `t${randomUUID().slice(0, 8)}` }));
    const [pair, subscriber] = await Promise.all([harness.queuePair({ maxReceiveCount: 20 }), harness.queuePair({ maxReceiveCount: 20 })]);
    await harness.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: subscriber.queueArn, Attributes: { RawMessageDelivery: 'true' } }));
    const policy = resolvePolicy('tests', { kind: 'guaranteed' });
    const consumer = new GuaranteedConsumer({
      channel: defineChannel('tests', { policy, schema }),
      policy,
      publishesTo: { orderBilled },
      outputs: { [OutputKey.topicArn('orderBilled')]: TopicArn! },
      handle: async ({ id }) => ({ publish: [{ topic: 'orderBilled', event: { invoiceId: `INV-${id}` } }] }),
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo, sns: harness.sns },
    });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'e' }, { correlationId });

    await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn));

    const [delivered] = await harness.receive(subscriber.queueUrl, 1);
    expect(JSON.parse(delivered!.Body!)).toStrictEqual({ invoiceId: 'INV-e' });
    expect(delivered!.MessageAttributes).toMatchObject({ [MessageAttribute.flowId]: { StringValue: correlationId }, [MessageAttribute.causationId]: { StringValue: correlationId } });
    expect(await lifecycle(correlationId)).toMatchObject({ onward: [{ kind: 'topic', target: 'orderBilled' }] });
  });
});

describe.concurrent('Function: FireAndForgetConsumer, onward messages', () => {
  it('sends on once after its handler, and drops what it cannot send, never retrying', async () => {
    const policy = resolvePolicy('notices', { kind: 'fire-and-forget', timeToLiveSeconds: 30 });
    const [pair, downstream] = await Promise.all([harness.queuePair({ maxReceiveCount: 20 }), harness.queuePair({ maxReceiveCount: 20 })]);
    const consumer = (sqs: SQSClient) =>
      new FireAndForgetConsumer({
        channel: defineChannel('notices', { policy, schema }),
        policy,
        sendsTo: { invoices },
        outputs: { [OutputKey.queueUrl('invoices')]: downstream.queueUrl },
        handle: async ({ id }) => ({ send: [{ channel: 'invoices', payload: { invoiceId: `INV-${id}` } }] }),
        endpoints: { tableName: harness.tableName, queueUrl: pair.queueUrl },
        clients: { sqs, dynamo: harness.dynamo },
      });
    const correlationId = randomUUID();
    await harness.send(pair.queueUrl, { id: 'f' }, { correlationId });
    expect(await consumer(harness.sqs).processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn))).toStrictEqual({ batchItemFailures: [] });
    await harness.send(pair.queueUrl, { id: 'g' });
    expect(await consumer(failingSendsTo(downstream.queueUrl, 1)).processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn))).toStrictEqual({ batchItemFailures: [] });

    const sent = await harness.receive(downstream.queueUrl, 2, 1);
    expect(sent.map((message) => JSON.parse(message.Body!))).toStrictEqual([{ invoiceId: 'INV-f' }]);
    expect(sent[0]!.MessageAttributes).toMatchObject({ [MessageAttribute.causationId]: { StringValue: correlationId } });
  });
});
