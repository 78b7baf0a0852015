import { StateKeys } from 'delivery-policies';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { tasks } from '../../lib/channels.ts';

/** Stores the task. The write is committed with the message's lifecycle record, so it happens once. */
export const handler = guaranteedConsumer({
  channel: tasks,
  handle: async (task, { tableName, correlationId }) => ({
    writes: [{ Put: { TableName: tableName, Item: { [StateKeys.partitionKey]: `task#${task.taskId}`, [StateKeys.sortKey]: 'task', ...task } } }],
    reply: { taskId: task.taskId, receipt: `R-${correlationId.slice(0, 8)}` },
  }),
});
