import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { fireAndForgetConsumer } from '../../functions/runtime/index.ts';
import { chaosNotices } from './channels.ts';

/** Records when each notice was applied next to its expiry, so the run can check none was applied late. */
export const handler = fireAndForgetConsumer({
  channel: chaosNotices,
  handle: async ({ id }, { tableName, expiresAt, clients }) => {
    // When the handler started: the runtime's expiry check ran just before, in the same turn of the event loop.
    const appliedAt = Date.now();
    await clients.dynamo.send(new PutCommand({ TableName: tableName, Item: { pk: `notice#${id}`, sk: 'applied', appliedAt, expiresAt } }));
  },
});
