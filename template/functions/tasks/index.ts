import { StateKeys } from 'delivery-policies';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { taskCreated, tasks } from '../../lib/channels.ts';

/**
 * Stores the task and announces it. The write is committed with the message's lifecycle record, so it happens once;
 * the announcement is committed with it and published after, so it goes out once the task is stored, and only then.
 */
export const handler = guaranteedConsumer({
  channel: tasks,
  publishesTo: { taskCreated },
  handle: async (task, { tableName, correlationId }) => ({
    writes: [{ Put: { TableName: tableName, Item: { [StateKeys.partitionKey]: `task#${task.taskId}`, [StateKeys.sortKey]: 'task', ...task } } }],
    reply: { taskId: task.taskId, receipt: `R-${correlationId.slice(0, 8)}` },
    publish: [{ topic: 'taskCreated', event: task }],
  }),
});
