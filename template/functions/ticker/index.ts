import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { StateKeys } from 'delivery-policies';
import { fireAndForgetConsumer } from 'delivery-policies/runtime';
import { ticker } from '../../lib/channels.ts';

/** Shows the new task on the ticker until the announcement is old news; an expired one never reaches here. */
export const handler = fireAndForgetConsumer({
  channel: ticker,
  handle: async (task, { tableName, expiresAt, clients }) => {
    await clients.dynamo.send(
      new PutCommand({
        TableName: tableName,
        Item: { [StateKeys.partitionKey]: `ticker#${task.taskId}`, [StateKeys.sortKey]: 'ticker', title: task.title, [StateKeys.timeToLive]: Math.ceil(expiresAt / 1000) },
      }),
    );
  },
});
