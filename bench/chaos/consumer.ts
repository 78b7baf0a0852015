import { defaultClients, guaranteedConsumer, PermanentError } from '../../functions/runtime/index.ts';
import { chaos } from './channels.ts';
import { faultMix } from './faults.ts';

const clients = defaultClients();

/**
 * Applies a message by counting it: one counter item per message, incremented in the same transaction as the
 * lifecycle record. A count above 1 anywhere is an effect applied twice. Faults come from the switch item.
 */
export const handler = guaranteedConsumer({
  channel: chaos,
  clients,
  handle: async ({ id, poison, sentAt }, { tableName }) => {
    const mix = await faultMix(clients, tableName);
    if (mix.enabled) {
      if (poison) throw new PermanentError(`poison message ${id}`);
      const roll = Math.random();
      if (roll < mix.crash) process.exit(1);
      if (roll < mix.crash + mix.slow) await new Promise((resolve) => setTimeout(resolve, 5000));
      if (roll < mix.crash + mix.slow + mix.transient) throw new Error('transient fault');
    }
    const now = Date.now();
    return {
      writes: [
        {
          Update: {
            TableName: tableName,
            Key: { pk: `applied#${id}`, sk: 'count' },
            UpdateExpression: 'ADD applied :one SET firstAppliedAt = if_not_exists(firstAppliedAt, :now), sentAt = :sentAt',
            ExpressionAttributeValues: { ':one': 1, ':now': now, ':sentAt': sentAt },
          },
        },
      ],
    };
  },
});
