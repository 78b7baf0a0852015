import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FireAndForgetConsumer } from '../../functions/runtime/index.ts';
import { handlePresence } from '../../functions/presence/handle.ts';
import { presence } from '../../lib/channels.ts';
import { defineChannel, MessageAttribute, resolvePolicy } from '../../lib/policy/index.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());

const schema = z.object({ id: z.string(), fail: z.boolean().optional() });

async function consumerFor(handle: (payload: z.infer<typeof schema>) => Promise<void>) {
  const policy = resolvePolicy('notices', { kind: 'fire-and-forget', timeToLiveSeconds: 30 });
  const pair = await harness.queuePair({ maxReceiveCount: 1000 });
  const consumer = new FireAndForgetConsumer({
    channel: defineChannel('notices', { policy, schema }),
    policy,
    handle: (payload) => handle(payload),
    endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl },
    clients: { sqs: harness.sqs, dynamo: harness.dynamo },
  });
  return { consumer, pair };
}

describe('Function: FireAndForgetConsumer', () => {
  it('never runs the handler for an expired message, and runs it for a live one', async () => {
    const handled: string[] = [];
    const { consumer, pair } = await consumerFor(async ({ id }) => void handled.push(id));
    await harness.send(pair.queueUrl, { id: 'stale' }, { attributes: { [MessageAttribute.expiresAt]: String(Date.now() - 1) } });
    await harness.send(pair.queueUrl, { id: 'fresh' }, { attributes: { [MessageAttribute.expiresAt]: String(Date.now() + 60_000) } });

    const response = await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 2), pair.queueArn));

    expect(response).toStrictEqual({ batchItemFailures: [] });
    expect(handled).toStrictEqual(['fresh']);
  });

  it('expires a message sent behind the SDK its time to live after SQS accepted it', async () => {
    const { consumer, pair } = await consumerFor(async () => {});
    await harness.send(pair.queueUrl, { id: 'raw' });
    const [record] = harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn).Records;
    expect(consumer.expiryOf(record!)).toBe(Number(record!.attributes.SentTimestamp) + 30_000);
  });

  it("expires a published event its subscriber's time to live after it was published, never after SQS accepted it", async () => {
    const { consumer, pair } = await consumerFor(async () => {});
    const publishedAt = Date.now() - 10_000;
    await harness.send(pair.queueUrl, { id: 'event' }, { attributes: { [MessageAttribute.sentAt]: String(publishedAt) } });
    await harness.send(pair.queueUrl, { id: 'future' }, { attributes: { [MessageAttribute.sentAt]: String(Date.now() + 3_600_000) } });
    const [event, future] = harness.event(await harness.receive(pair.queueUrl, 2), pair.queueArn).Records.sort((a, b) => a.body.localeCompare(b.body));
    expect(consumer.expiryOf(event!)).toBe(publishedAt + 30_000);
    expect(consumer.expiryOf(future!)).toBe(Number(future!.attributes.SentTimestamp) + 30_000);
  });

  it('drops a failing message and a malformed one, reports nothing failed, and dead-letters nothing', async () => {
    const handled: string[] = [];
    const { consumer, pair } = await consumerFor(async ({ id, fail }) => {
      handled.push(id);
      if (fail) throw new Error('display offline');
    });
    const live = { [MessageAttribute.expiresAt]: String(Date.now() + 60_000) };
    await harness.send(pair.queueUrl, { id: 'broken', fail: true }, { attributes: live });
    await harness.send(pair.queueUrl, 'not json', { attributes: live });
    await harness.send(pair.queueUrl, { id: 'fine' }, { attributes: live });

    const response = await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 3), pair.queueArn));

    expect(response).toStrictEqual({ batchItemFailures: [] });
    expect(handled.sort()).toStrictEqual(['broken', 'fine']);
    expect(await harness.receive(pair.deadLetterQueueUrl, 1, 1)).toHaveLength(0);
  });
});

describe('Handler: presence', () => {
  it('stores who is doing what in the room, expiring with the notice', async () => {
    const pair = await harness.queuePair({ maxReceiveCount: 1000 });
    const consumer = new FireAndForgetConsumer({
      channel: presence,
      handle: handlePresence,
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo },
    });
    const userId = randomUUID();
    const expiresAt = Date.now() + 30_000;
    await harness.send(pair.queueUrl, { userId, activity: 'typing', room: 'lobby' }, { attributes: { [MessageAttribute.expiresAt]: String(expiresAt) } });
    await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn));

    const { Item } = await harness.dynamo.send(new GetCommand({ TableName: harness.tableName, Key: { pk: 'presence#lobby', sk: `user#${userId}` } }));
    expect(Item).toMatchObject({ activity: 'typing', expiresAt: Math.ceil(expiresAt / 1000) });
  });
});
