import type { z } from 'zod';
import type { billing, ledger } from '../../lib/channels.ts';
import { StateKeys } from 'delivery-policies';
import type { HandlerOutcome, MessageContext } from 'delivery-policies/runtime';

type OrderPlaced = z.infer<typeof billing.schema>;
type Invoice = z.infer<typeof billing.replySchema>;

/**
 * Bills a placed order: one invoice, written with the event's lifecycle record in one transaction, so that however
 * often the event arrives (a publisher's retry, SQS's redelivery), the customer is billed once. The invoice goes on to
 * the ledger with the same commit: sent once it stands, never for an invoice that was not written.
 */
export async function handleOrderPlaced(
  event: OrderPlaced,
  { tableName, correlationId }: MessageContext,
): Promise<HandlerOutcome<Invoice, { channels: { ledger: typeof ledger }; topics: Record<never, never> }>> {
  const invoiceId = `INV-${event.orderId}`;
  return {
    writes: [
      {
        Put: {
          TableName: tableName,
          Item: {
            [StateKeys.partitionKey]: `invoice#${event.orderId}`,
            [StateKeys.sortKey]: 'invoice',
            invoiceId,
            customerId: event.customerId,
            amountCents: event.totalCents,
            correlationId,
          },
        },
      },
    ],
    reply: { invoiceId, amountCents: event.totalCents },
    send: [{ channel: 'ledger', payload: { invoiceId, customerId: event.customerId, amountCents: event.totalCents } }],
  };
}
