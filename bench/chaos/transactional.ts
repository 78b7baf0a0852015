import { defaultClients, guaranteedConsumer } from '../../functions/runtime/index.ts';
import { chaosTransactional } from './channels.ts';
import { countApplication } from './effects.ts';
import { faultsBeforeEffect } from './faults.ts';

const clients = defaultClients();

/**
 * Applies a message by counting it: one counter item per message, incremented in the same transaction as the
 * lifecycle record. A count above 1 anywhere is an effect applied twice.
 */
export const handler = guaranteedConsumer({
  channel: chaosTransactional,
  clients,
  handle: async (message, { tableName }) => {
    await faultsBeforeEffect(clients, tableName, message);
    return { writes: [{ Update: { TableName: tableName, ...countApplication(message.id, message.sentAt) } }] };
  },
});

