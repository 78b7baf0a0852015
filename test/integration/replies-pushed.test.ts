import { CreateQueueCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../lib/channels.ts';
import { createClient, type MessagingClient } from '../../lib/client/index.ts';
import { ABANDONED_AFTER_MS } from '../../lib/client/reply-inbox.ts';
import { MessageAttribute, OutputKey, ReplyQueue } from '../../lib/policy/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { startExampleCloud, type ExampleCloud } from '../helpers/example-cloud.ts';

/**
 * Pushed replies on the example app: the orders consumer sends a notice to the caller's reply queue at the commit, and
 * awaitReply reads the record when it comes, not at its next scheduled read.
 */
let example: ExampleCloud;
let pushed: MessagingClient<typeof channels>;
let prefix: string;

const order = (orderId: string) => ({ orderId, customerId: 'c-1', items: [{ sku: 'tea', quantity: 2 }] });
const queueNames = async () => {
  const { QueueUrls = [] } = await example.client.sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
  return QueueUrls.map((url) => url.slice(url.lastIndexOf('/') + 1)).sort();
};

/**
 * A reply queue of the stack's made by hand, and a message to orders sent straight to SQS naming it: what the
 * consumer does with replyTo, apart from any client. `notices` long-polls the queue once.
 */
async function sendOrderNamingAReplyQueue(body: unknown) {
  const name = `${prefix}${randomUUID().replaceAll('-', '')}`;
  const { QueueUrl } = await example.client.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const correlationId = randomUUID();
  await example.client.sqs.send(
    new SendMessageCommand({
      QueueUrl: example.client.output(OutputKey.queueUrl('orders')),
      MessageBody: JSON.stringify(body),
      MessageAttributes: {
        [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId },
        [MessageAttribute.replyTo]: { DataType: 'String', StringValue: name },
      },
    }),
  );
  const notices = async () => {
    const { Messages = [] } = await example.client.sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }));
    return Messages.map((message) => JSON.parse(message.Body!) as unknown);
  };
  return { correlationId, notices };
}

beforeAll(async () => {
  example = await startExampleCloud('replies-pushed');
  pushed = await createClient({ channels, target: 'local', localStateDir: example.stateDir, replies: 'pushed' });
  prefix = example.client.output(OutputKey.replyQueuePrefix);
}, 120_000);

afterAll(async () => {
  await pushed?.close();
  await example?.stop();
});

describe('Function: the consumer of a channel that keeps replies, with a message that names a reply queue', () => {
  it('sends that queue a notice naming the message once its reply is committed', async () => {
    // GIVEN an order naming a reply queue of the stack's
    const { correlationId, notices } = await sendOrderNamingAReplyQueue(order('o-notice'));
    // WHEN its consumer has applied it THEN the queue holds a notice that names it, and nothing else
    expect(await notices()).toStrictEqual([{ channel: 'orders', correlationId }]);
    expect(await example.client.awaitReply(correlationId, { channel: 'orders' })).toMatchObject({ orderId: 'o-notice', itemCount: 2 });
  }, 60_000);

  it('sends one when it dead-letters the message too, so that the caller hears of it at once', async () => {
    // GIVEN an order that breaks its schema
    const { correlationId, notices } = await sendOrderNamingAReplyQueue({ orderId: 5 });
    // WHEN its consumer dead-letters it THEN the queue holds its notice, and the record says why
    expect(await notices()).toStrictEqual([{ channel: 'orders', correlationId }]);
    await expect(example.client.awaitReply(correlationId, { channel: 'orders' })).rejects.toMatchObject({ code: 'DEAD_LETTERED' });
  }, 60_000);
});

describe('Function: awaitReply with replies pushed', () => {
  it('reads the record at the notice, not at its next read a minute on', async () => {
    // GIVEN a wait whose first read has found nothing, and whose next scheduled read is 60 s away
    let reads = 0;
    pushed.dynamo.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        reads += 1;
        return result;
      },
      { step: 'initialize', name: 'countReads' },
    );
    const correlationId = randomUUID();
    const reply = pushed.awaitReply(correlationId, { channel: 'orders', minDelay: 60, maxDelay: 60, maxWaitTime: 120 });
    await eventually(async () => reads, (count) => count >= 1);
    // WHEN the order is sent, its reply pushed to this client
    const ack = await pushed.send('orders', order('o-pushed'), { correlationId });
    expect(ack.replyPushed).toBe(true);
    // THEN the wait ends with the reply, read once more: at the notice (no notice, and the test times out)
    expect(await reply).toMatchObject({ orderId: 'o-pushed', itemCount: 2 });
    expect(reads).toBe(2);
    pushed.dynamo.middlewareStack.remove('countReads');
  }, 30_000);

  it('pushes a batch\'s replies too, and a send of a channel that keeps none is refused a pushed reply', async () => {
    const batch = await pushed.sendBatch('orders', [order('o-b1'), order('o-b2')]);
    expect(batch.accepted.map((ack) => ack.replyPushed)).toStrictEqual([true, true]);
    const replies = await Promise.all(batch.accepted.map((ack) => pushed.awaitReply(ack, { maxWaitTime: 20 })));
    expect(replies.map((reply) => reply.orderId)).toStrictEqual(['o-b1', 'o-b2']);
    // A fire-and-forget channel keeps no replies: the client's option passes it by, and asking by name is a mistake.
    expect((await pushed.send('presence', { userId: 'u', activity: 'typing', room: 'r' })).replyPushed).toBeUndefined();
    await expect(example.client.send('presence', { userId: 'u', activity: 'typing', room: 'r' }, { pushReply: true } as never)).rejects.toMatchObject({ code: 'WRONG_POLICY' });
  }, 60_000);
});

describe('Class: ReplyInbox, the reply queues of a stack', () => {
  it('are deleted by their client\'s close, and an abandoned one by the next reply queue made', async () => {
    // GIVEN a reply queue whose heartbeat is past the limit, and one whose heartbeat is fresh
    const suffix = () => randomUUID().replaceAll('-', '');
    const abandoned = `${prefix}${suffix()}`;
    const alive = `${prefix}${suffix()}`;
    const tagged = (at: number) => ({ 'delivery-policies:heartbeat': String(at) });
    await example.client.sqs.send(new CreateQueueCommand({ QueueName: abandoned, tags: tagged(Date.now() - ABANDONED_AFTER_MS - 60_000) }));
    await example.client.sqs.send(new CreateQueueCommand({ QueueName: alive, tags: tagged(Date.now()) }));
    // WHEN a new client makes its reply queue (its first pushed send)
    const client = await createClient({ channels, target: 'local', localStateDir: example.stateDir, replies: 'pushed' });
    const before = new Set(await queueNames());
    // (a payload its schema refuses makes none: the queue comes after the check)
    await expect(client.send('orders', { orderId: 5 } as never)).rejects.toMatchObject({ code: 'SCHEMA_VIOLATION' });
    expect(new Set(await queueNames())).toStrictEqual(before);
    await client.send('orders', order('o-sweep'));
    const own = (await queueNames()).find((name) => !before.has(name));
    expect(own && ReplyQueue.isNamed(own, prefix)).toBe(true);
    // THEN the abandoned queue goes, the living one stays; and the client's own goes with its close
    expect(await eventually(queueNames, (names) => !names.includes(abandoned))).not.toContain(abandoned);
    expect(await queueNames()).toContain(alive);
    await client.close();
    expect(await queueNames()).not.toContain(own);
    expect(await queueNames()).toContain(alive);
  }, 60_000);
});
