import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import type { presence } from '../../lib/channels.ts';
import { StateKeys } from 'delivery-policies';
import type { ExpiringMessageContext } from 'delivery-policies/runtime';

/** Shows who is typing or inviting to lunch; the item disappears with the notice's own expiry. */
export async function handlePresence(notice: z.infer<typeof presence.schema>, { tableName, expiresAt, clients }: ExpiringMessageContext): Promise<void> {
  await clients.dynamo.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        [StateKeys.partitionKey]: `presence#${notice.room}`,
        [StateKeys.sortKey]: `user#${notice.userId}`,
        activity: notice.activity,
        at: Date.now(),
        [StateKeys.timeToLive]: Math.ceil(expiresAt / 1000),
      },
    }),
  );
}
