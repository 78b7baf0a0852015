import { describe, expectTypeOf, it } from 'vitest';
import { guaranteedConsumer, responder } from '../../functions/runtime/index.ts';
import { channels, orders, presence, quotes } from '../../lib/channels.ts';
import type { Acknowledgement, Answer, BatchResult, MessagingClient } from '../../lib/client/index.ts';

// Type tests: `tsc --noEmit` in npm test checks them. Each @ts-expect-error is a mistake that must not compile; if it
// ever compiles, the directive itself is the error. The functions are never called: only their types matter.

type OrderReply = { orderId: string; confirmation: string; itemCount: number };
type QuoteReply = { sku: string; quantity: number; unitPriceCents: number; totalCents: number; source: 'live' | 'cached-price-list' };
const order = { orderId: 'o-1', customerId: 'c-1', items: [{ sku: 'apple', quantity: 1 }] };

function senderChecks(client: MessagingClient<typeof channels>) {
  expectTypeOf(client.send('orders', order)).resolves.toEqualTypeOf<Acknowledgement<'orders'>>();
  expectTypeOf(client.sendBatch('presence', [{ userId: 'u', activity: 'typing', room: 'r' }])).resolves.toEqualTypeOf<BatchResult<'presence'>>();
  // @ts-expect-error a payload that breaks the schema
  void client.send('orders', { orderId: 42, customerId: 'c-1', items: [] });
  // @ts-expect-error a property the schema does not have
  void client.send('orders', { ...order, nonsense: true });
  // @ts-expect-error an unknown channel
  void client.send('ordres', order);
  // @ts-expect-error send on a request-response channel
  void client.send('quotes', { sku: 'coffee', quantity: 1 });
  // @ts-expect-error request on a guaranteed channel
  void client.request('orders', order);

  expectTypeOf(client.request('quotes', { sku: 'coffee', quantity: 2 })).resolves.toEqualTypeOf<Answer<QuoteReply>>();
  // @ts-expect-error a request that breaks the schema
  void client.request('quotes', { sku: 'coffee' });
}

async function replyChecks(client: MessagingClient<typeof channels>) {
  const ack = await client.send('orders', order);
  expectTypeOf(client.awaitReply(ack)).resolves.toEqualTypeOf<OrderReply>();
  expectTypeOf(client.awaitReply(ack.correlationId, { channel: 'orders' })).resolves.toEqualTypeOf<OrderReply>();
  expectTypeOf(client.awaitReply(ack.correlationId)).resolves.toBeUnknown();
  // @ts-expect-error a fire-and-forget channel has no reply to wait for
  void client.awaitReply('id', { channel: 'presence' });
}

function handlerChecks() {
  guaranteedConsumer({ channel: orders, handle: async ({ orderId, items }) => ({ reply: { orderId, confirmation: 'c', itemCount: items.length } }) });
  // @ts-expect-error a reply that breaks replySchema
  guaranteedConsumer({ channel: orders, handle: async ({ orderId }) => ({ reply: { orderId, confirmation: 7 } }) });
  // @ts-expect-error a guaranteed consumer on a fire-and-forget channel
  guaranteedConsumer({ channel: presence, handle: async () => ({}) });
  responder({ channel: quotes, role: 'fallback', handle: async ({ sku, quantity }) => ({ sku, quantity, unitPriceCents: 1, totalCents: quantity, source: 'cached-price-list' as const }) });
  // @ts-expect-error an answer that breaks replySchema
  responder({ channel: quotes, role: 'primary', handle: async ({ sku }) => ({ sku, source: 'live' as const }) });
}

describe('Types: the channel catalog types the SDK and the handlers', () => {
  it('is checked by tsc in npm test', () => {
    expectTypeOf(senderChecks).toBeFunction();
    expectTypeOf(replyChecks).toBeFunction();
    expectTypeOf(handlerChecks).toBeFunction();
  });
});
