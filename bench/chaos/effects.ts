import { defaultClients, guaranteedConsumer, type TransactWrite } from '../../functions/runtime/index.ts';
import { ChaosKeys, type chaosFifo, type chaosLedger, type chaosTransactional } from './channels.ts';
import { faultsBeforeEffect } from './faults.ts';

/**
 * The update that counts one application of a message, with when it was first applied (for latency). An outside
 * effect also adds its own token, so that each application can be told apart from the others.
 */
export function countApplication(id: string, sentAt: number, effect?: string) {
  return {
    Key: ChaosKeys.applied(id),
    UpdateExpression: `ADD applied :one${effect ? ', effects :effect' : ''} SET firstAppliedAt = if_not_exists(firstAppliedAt, :now), sentAt = :sentAt`,
    ExpressionAttributeValues: { ':one': 1, ':now': Date.now(), ':sentAt': sentAt, ...(effect ? { ':effect': new Set([effect]) } : {}) },
  };
}

type ChaosMessage = { id: string; poison: boolean; sentAt: number; group?: string; seq?: number };

/**
 * A consumer whose effect is counting the message in the runtime's transaction (a count above 1 anywhere is an
 * effect applied twice), with any further writes the channel's effect adds. Faults come before the effect.
 */
export function countingConsumer(channel: typeof chaosTransactional | typeof chaosFifo | typeof chaosLedger, moreWrites: (message: ChaosMessage, tableName: string) => TransactWrite[] = () => []) {
  const clients = defaultClients();
  return guaranteedConsumer({
    channel,
    clients,
    handle: async (message, { tableName }) => {
      await faultsBeforeEffect(clients, tableName, message);
      return { writes: [{ Update: { TableName: tableName, ...countApplication(message.id, message.sentAt) } }, ...moreWrites(message, tableName)] };
    },
  });
}
