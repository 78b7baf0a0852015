import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../lib/channels.ts';
import { DeadLettered, peekDeadLetters, type MessagingClient } from '../../lib/client/index.ts';
import { MessageAttribute, OutputKey, type LifecycleRecord } from '../../lib/policy/index.ts';
import { connect } from './target.ts';
import { eventually } from '../helpers/eventually.ts';

// The same suite runs on the local cloud (inside npm test), on LocalStack and on AWS; only connect() differs.
let client: MessagingClient<typeof channels>;
let close: () => Promise<void>;
beforeAll(async () => ({ client, close } = await connect()));
afterAll(() => close?.());

const stateItem = async (pk: string, sk: string) =>
  (await client.dynamo.send(new GetCommand({ TableName: client.output(OutputKey.stateTableName), Key: { pk, sk }, ConsistentRead: true }))).Item;


describe('E2E: guaranteed (orders)', () => {
  it('acknowledges at once, applies the order once, and answers later through awaitReply', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const ack = await client.send('orders', { orderId, customerId: 'c-1', items: [{ sku: 'apple', quantity: 3 }] });
    expect(ack).toMatchObject({ channel: 'orders', messageId: expect.any(String), correlationId: expect.any(String) });

    const reply = await client.awaitReply(ack, { maxWaitTime: 60 });

    expect(reply).toMatchObject({ orderId, itemCount: 3, confirmation: expect.stringMatching(/^ORD-[0-9A-F]{10}$/) });
    expect(await stateItem(`order#${orderId}`, 'order')).toMatchObject({ orderId, status: 'accepted', correlationId: ack.correlationId });
    const [record] = await client.status(ack.correlationId);
    expect(record).toMatchObject({ status: 'succeeded', channel: 'orders', attempts: 1, reply });
  });

  it('shows a body sent behind the SDK dead-lettered with its reason, in status, awaitReply and the DLQ', async () => {
    const correlationId = randomUUID();
    await client.sqs.send(
      new SendMessageCommand({
        QueueUrl: client.output(OutputKey.queueUrl('orders')),
        MessageBody: JSON.stringify({ orderId: 'o-bad', items: [] }),
        MessageAttributes: { [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId } },
      }),
    );

    await expect(client.awaitReply(correlationId, { maxWaitTime: 60 })).rejects.toThrow(DeadLettered);
    const [record] = await client.status(correlationId);
    expect(record).toMatchObject({ status: 'dead-lettered', reason: expect.stringMatching(/^schema violation: customerId: .*items: /) });
    const letters = await eventually(() => peekDeadLetters(client, 'orders', 50), (found) => found.some((letter) => letter.correlationId === correlationId));
    expect(letters.find((letter) => letter.correlationId === correlationId)).toMatchObject({ attempts: 1, reason: (record as { reason: string }).reason });
  });

  it('takes no order larger than its consumer can record, from the SDK or behind its back', async () => {
    // An order item holds the order whole, and a DynamoDB item holds 400 KB: the channel takes 256 KiB at most.
    const large = { orderId: `o-${randomUUID().slice(0, 8)}`, customerId: 'c-1', items: [{ sku: 'x'.repeat(300_000), quantity: 1 }] };
    await expect(client.send('orders', large)).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await expect(client.sqs.send(new SendMessageCommand({ QueueUrl: client.output(OutputKey.queueUrl('orders')), MessageBody: JSON.stringify(large) }))).rejects.toThrow();
  });

  it('says unknown for a correlation id no consumer has seen', async () => {
    const unknown = randomUUID();
    expect(await client.status(unknown)).toStrictEqual([{ status: 'unknown', correlationId: unknown }]);
  });
});

async function queueDepthOf(channel: 'presence' | 'salesAlerts'): Promise<number> {
  const { Attributes = {} } = await client.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: client.output(OutputKey.queueUrl(channel)), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}
const presenceQueueDepth = () => queueDepthOf('presence');

describe('E2E: fire-and-forget (presence)', () => {
  it('applies a live notice and never an expired one', async () => {
    const live = randomUUID();
    const expired = randomUUID();
    await client.sqs.send(
      new SendMessageCommand({
        QueueUrl: client.output(OutputKey.queueUrl('presence')),
        MessageBody: JSON.stringify({ userId: expired, activity: 'lunch-invitation', room: 'kitchen' }),
        MessageAttributes: { [MessageAttribute.expiresAt]: { DataType: 'Number', StringValue: String(Date.now() - 1000) } },
      }),
    );
    await client.send('presence', { userId: live, activity: 'typing', room: 'kitchen' });

    const applied = await eventually(() => stateItem('presence#kitchen', `user#${live}`), (item) => item !== undefined);
    expect(applied).toMatchObject({ activity: 'typing' });
    // Only once the queue holds nothing, visible or in flight, has the expired notice surely been through the consumer.
    const left = await eventually(() => presenceQueueDepth(), (depth) => depth === 0);
    expect(left).toBe(0);
    expect(await stateItem('presence#kitchen', `user#${expired}`)).toBeUndefined();
  });
});

describe('E2E: a topic (orderPlaced) and its subscribers (billing, shipping, salesAlerts)', () => {
  it('reaches every subscriber under its own policy: billed once with a reply, handed to the warehouse, and a large order on the sales board', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const published = await client.publish('orderPlaced', { orderId, customerId: 'c-7', totalCents: 250_000 });
    expect(published).toMatchObject({ topic: 'orderPlaced', messageId: expect.any(String), correlationId: expect.any(String) });

    const invoice = await client.awaitReply(published.correlationId, { channel: 'billing', maxWaitTime: 60 });

    expect(invoice).toStrictEqual({ invoiceId: `INV-${orderId}`, amountCents: 250_000 });
    expect(await stateItem(`invoice#${orderId}`, 'invoice')).toMatchObject({ amountCents: 250_000, correlationId: published.correlationId });
    const alert = await eventually(() => stateItem('alert#sales', `order#${orderId}`), (item) => item !== undefined);
    expect(alert).toMatchObject({ customerId: 'c-7', totalCents: 250_000 });
    // The warehouse's hand-over is an outside effect: claimed under a lease, made, then completed in its record.
    const [shipped] = await eventually(() => client.status(published.correlationId, { channel: 'shipping' }), ([record]) => record?.status === 'succeeded');
    expect(shipped).toMatchObject({ attempts: 1, flowId: published.correlationId });
    expect(await stateItem(`shipment#${orderId}`, 'pick')).toMatchObject({ customerId: 'c-7', idempotencyKey: published.correlationId });
  });

  it('follows the flow on: billing sends the invoice to the ledger, and each hop names its flow and its cause', async () => {
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const published = await client.publish('orderPlaced', { orderId, customerId: `c-${orderId}`, totalCents: 4_200 });
    await client.awaitReply(published.correlationId, { channel: 'billing', maxWaitTime: 60 });

    // The billing record names what it sent on; that message's own record can be read in turn.
    const [billed] = await client.status(published.correlationId, { channel: 'billing' });
    expect(billed).toMatchObject({ status: 'succeeded', flowId: published.correlationId, onward: [{ kind: 'channel', target: 'ledger', correlationId: expect.any(String) }] });
    const { correlationId: entryId } = (billed as LifecycleRecord).onward![0]!;
    const entry = await eventually(() => stateItem(`ledger#c-${orderId}`, `invoice#INV-${orderId}`), (item) => item !== undefined);
    expect(entry).toMatchObject({ amountCents: 4_200, flowId: published.correlationId, causationId: published.correlationId });
    const [entered] = await eventually(() => client.status(entryId, { channel: 'ledger' }), ([record]) => record?.status === 'succeeded');
    expect(entered).toMatchObject({ flowId: published.correlationId, causationId: published.correlationId });
  });

  it('keeps a small order from the sales board by its filter, and bills it', async () => {
    const small = `o-${randomUUID().slice(0, 8)}`;
    const large = `o-${randomUUID().slice(0, 8)}`;
    const results = await client.publishBatch('orderPlaced', [{ orderId: small, customerId: 'c-8', totalCents: 500 }, { orderId: large, customerId: 'c-8', totalCents: 100_000 }]);
    expect(results.rejected).toStrictEqual([]);

    // The large order's alert, published after the small one, and then an empty queue: the small one was never delivered.
    await eventually(() => stateItem('alert#sales', `order#${large}`), (item) => item !== undefined);
    expect(await eventually(() => queueDepthOf('salesAlerts'), (depth) => depth === 0)).toBe(0);
    expect(await stateItem('alert#sales', `order#${small}`)).toBeUndefined();
    expect(await client.awaitReply(results.accepted[0]!.correlationId, { channel: 'billing', maxWaitTime: 60 })).toStrictEqual({ invoiceId: `INV-${small}`, amountCents: 500 });
  });

  it('refuses an event that breaks the topic’s schema before it leaves the process', async () => {
    await expect(client.publish('orderPlaced', { orderId: 'o-1', customerId: 'c-1', totalCents: -1 })).rejects.toMatchObject({ code: 'SCHEMA_VIOLATION' });
  });
});

describe('E2E: request-response (quotes)', () => {
  beforeAll(async () => {
    // One warm instance of each responder, as a service in use has: the deadline (1.5 s, failover at 0.9 s) is the
    // policy's, and a cold start on a busy machine is not what this test is about. A direct invoke waits for it.
    for (const key of [OutputKey.primaryFunctionName('quotes'), OutputKey.fallbackFunctionName('quotes')]) {
      await client.lambda.send(new InvokeCommand({ FunctionName: client.output(key), Payload: Buffer.from(JSON.stringify({ sku: 'tea', quantity: 1 })) }));
    }
  });

  it('answers within the deadline from the primary', async () => {
    // An answer is proof it came in time: past the deadline, request rejects with DeadlineExceeded.
    const result = await client.request('quotes', { sku: 'coffee', quantity: 2 });
    expect(result).toMatchObject({ responder: 'primary', answer: { sku: 'coffee', totalCents: 2598, source: 'live' } });
  });
});
