import type { z } from 'zod';
import type { ledger } from '../../lib/channels.ts';
import { StateKeys } from 'delivery-policies';
import type { HandlerOutcome, MessageContext } from 'delivery-policies/runtime';

/**
 * Enters an invoice in its customer's ledger, once: billing may send it again (a redelivery finishing its outbox), and
 * the entry is committed with the message's lifecycle record. The entry keeps the flow it came from.
 */
export async function handleInvoice(invoice: z.infer<typeof ledger.schema>, { tableName, flowId, causationId }: MessageContext): Promise<HandlerOutcome> {
  return {
    writes: [
      {
        Put: {
          TableName: tableName,
          Item: {
            [StateKeys.partitionKey]: `ledger#${invoice.customerId}`,
            [StateKeys.sortKey]: `invoice#${invoice.invoiceId}`,
            amountCents: invoice.amountCents,
            flowId,
            causationId,
          },
        },
      },
    ],
  };
}
