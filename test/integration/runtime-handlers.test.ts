import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleOrder } from '../../functions/orders/handle.ts';
import { handler as quotesFallback } from '../../functions/quotes/fallback.ts';
import { handler as quotesPrimary } from '../../functions/quotes/primary.ts';
import { GuaranteedConsumer, LifecycleStore } from '../../functions/runtime/index.ts';
import { orders } from '../../lib/channels.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());

describe('Handler: orders', () => {
  it('stores the order once and keeps its confirmation as the reply', async () => {
    const pair = await harness.queuePair({ maxReceiveCount: 5 });
    const consumer = new GuaranteedConsumer({
      channel: orders,
      handle: handleOrder,
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs: harness.sqs, dynamo: harness.dynamo },
    });
    const correlationId = randomUUID();
    const order = { orderId: `o-${correlationId.slice(0, 8)}`, customerId: 'c-1', items: [{ sku: 'apple', quantity: 2 }, { sku: 'tea', quantity: 1 }] };
    await harness.send(pair.queueUrl, order, { correlationId });

    expect(await consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, 1), pair.queueArn))).toStrictEqual({ batchItemFailures: [] });

    const { Item } = await harness.dynamo.send(new GetCommand({ TableName: harness.tableName, Key: { pk: `order#${order.orderId}`, sk: 'order' } }));
    expect(Item).toMatchObject({ ...order, status: 'accepted', correlationId });
    const record = await new LifecycleStore(harness.dynamo, harness.lifecycleTableName).get(correlationId, 'orders');
    expect(record).toMatchObject({ status: 'succeeded', reply: { orderId: order.orderId, itemCount: 3, confirmation: Item!.confirmation } });
  });
});

describe('Handler: quotes responders', () => {
  it('quotes live prices from the primary and cached ones from the fallback', async () => {
    await expect(quotesPrimary({ sku: 'coffee', quantity: 2 })).resolves.toStrictEqual({ sku: 'coffee', quantity: 2, unitPriceCents: 1299, totalCents: 2598, source: 'live' });
    await expect(quotesFallback({ sku: 'coffee', quantity: 2 })).resolves.toStrictEqual({ sku: 'coffee', quantity: 2, unitPriceCents: 1249, totalCents: 2498, source: 'cached-price-list' });
  });

  it('rejects a request that breaks the schema with a clear error', async () => {
    await expect(quotesPrimary({ sku: 'coffee', quantity: -1 })).rejects.toThrow(/^quotes: invalid request: quantity: /);
  });

  it('fails on an unknown product, which the caller sees as a function error', async () => {
    await expect(quotesPrimary({ sku: 'caviar', quantity: 1 })).rejects.toThrow('no live price for caviar');
  });
});
