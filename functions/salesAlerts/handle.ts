import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import type { salesAlerts } from '../../lib/channels.ts';
import { StateKeys } from 'delivery-policies';
import type { ExpiringMessageContext } from 'delivery-policies/runtime';

/** Puts a large order on the sales team's board, from which it disappears when it is no longer news. */
export async function handleLargeOrder(event: z.infer<typeof salesAlerts.schema>, { tableName, expiresAt, clients }: ExpiringMessageContext): Promise<void> {
  await clients.dynamo.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        [StateKeys.partitionKey]: 'alert#sales',
        [StateKeys.sortKey]: `order#${event.orderId}`,
        customerId: event.customerId,
        totalCents: event.totalCents,
        [StateKeys.timeToLive]: Math.ceil(expiresAt / 1000),
      },
    }),
  );
}
