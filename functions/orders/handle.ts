import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { orders } from '../../lib/channels.ts';
import { StateKeys } from 'delivery-policies';
import type { HandlerOutcome, MessageContext } from 'delivery-policies/runtime';

type Order = z.infer<typeof orders.schema>;
type Confirmation = z.infer<typeof orders.replySchema>;

/**
 * Accepts an order. Its effect is one DynamoDB write, so it returns the write and the runtime commits it with
 * the message's lifecycle record: however often SQS delivers the message, the order is stored once.
 */
export async function handleOrder(order: Order, { tableName, correlationId }: MessageContext): Promise<HandlerOutcome<Confirmation>> {
  const confirmation = `ORD-${createHash('sha256').update(`${order.orderId}:${correlationId}`).digest('hex').slice(0, 10).toUpperCase()}`;
  const itemCount = order.items.reduce((sum, item) => sum + item.quantity, 0);
  return {
    writes: [
      {
        Put: {
          TableName: tableName,
          Item: {
            [StateKeys.partitionKey]: `order#${order.orderId}`,
            [StateKeys.sortKey]: 'order',
            ...order,
            status: 'accepted',
            confirmation,
            correlationId,
          },
        },
      },
    ],
    reply: { orderId: order.orderId, confirmation, itemCount },
  };
}
