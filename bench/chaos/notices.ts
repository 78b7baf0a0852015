import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { fireAndForgetConsumer } from '../../functions/runtime/index.ts';
import { chaosNotices } from './channels.ts';

/**
 * The runtime's last reading of the clock: its expiry check for the record whose handler is starting, which it runs
 * in the same synchronous turn just before calling the handler. A reading of our own inside the handler could fall
 * past the expiry on a busy machine though the runtime decided before it: a measurement at the boundary.
 */
let checkedAt: number | undefined;

/** Records when the runtime decided to apply each notice next to its expiry, so the run can check none was late. */
export const handler = fireAndForgetConsumer({
  channel: chaosNotices,
  clock: () => (checkedAt = Date.now()),
  handle: async ({ id }, { tableName, expiresAt, clients }) => {
    const decidedAt = checkedAt;
    checkedAt = undefined;
    await clients.dynamo.send(new PutCommand({ TableName: tableName, Item: { pk: `notice#${id}`, sk: 'applied', decidedAt: decidedAt ?? null, expiresAt } }));
  },
});
