import { defaultClients, guaranteedConsumer } from '../../functions/runtime/index.ts';
import { chaosFifo, ChaosKeys } from './channels.ts';
import { faultsBeforeEffect } from './faults.ts';
import { countApplication } from './effects.ts';

const clients = defaultClients();

/**
 * Counts the message, as the transactional channel does, and appends its place to its group's order list in the
 * same transaction: the list shows the order in which the group's effects were applied.
 */
export const handler = guaranteedConsumer({
  channel: chaosFifo,
  clients,
  handle: async (message, { tableName }) => {
    await faultsBeforeEffect(clients, tableName, message);
    return {
      writes: [
        { Update: { TableName: tableName, ...countApplication(message.id, message.sentAt) } },
        {
          Update: {
            TableName: tableName,
            Key: ChaosKeys.group(message.group!),
            UpdateExpression: 'SET applied = list_append(if_not_exists(applied, :empty), :seq)',
            ExpressionAttributeValues: { ':empty': [], ':seq': [message.seq!] },
          },
        },
      ],
    };
  },
});
