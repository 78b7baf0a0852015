import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { presence } from '../../lib/channels.ts';
import { StateKeys } from '../../lib/policy/index.ts';
import { fireAndForgetConsumer } from '../runtime/index.ts';

/** Shows who is typing or inviting to lunch; the item disappears with the notice's own expiry. */
export const handler = fireAndForgetConsumer({
  channel: presence,
  handle: async (notice, { tableName, expiresAt, clients }) => {
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
  },
});
