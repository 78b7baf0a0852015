import { guaranteedConsumer } from 'delivery-policies/runtime';
import { assignment } from '../../lib/channels.ts';

/**
 * Tells the assignee of a new task. The effect is outside DynamoDB, so the runtime claims the event with a lease, runs
 * this, then completes it: a crash between the call and the completion can repeat the call, so the outside system is
 * given the event's key (an Idempotency-Key header, a client token) to drop the repeat.
 */
export const handler = guaranteedConsumer({
  channel: assignment,
  handle: async (task, { logger, idempotencyKey }) => {
    logger.info('assignee told of a new task', { taskId: task.taskId, idempotencyKey });
    return {};
  },
});
