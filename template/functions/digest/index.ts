import { StateKeys } from 'delivery-policies';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { digest } from '../../lib/channels.ts';

/** Enters a new task in the digest, once however often the announcement arrives. */
export const handler = guaranteedConsumer({
  channel: digest,
  handle: async (task, { tableName, flowId }) => ({
    writes: [{ Put: { TableName: tableName, Item: { [StateKeys.partitionKey]: `digest#${task.taskId}`, [StateKeys.sortKey]: 'digest', title: task.title, flowId } } }],
  }),
});
