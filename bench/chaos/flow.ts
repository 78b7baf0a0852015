import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { defaultClients, endpointsFromEnv, guaranteedConsumer } from '../../functions/runtime/index.ts';
import { chaosFlow, chaosLedger } from './channels.ts';
import { countApplication } from './effects.ts';
import { crashInstance, faultMix, faultsBeforeEffect } from './faults.ts';

const clients = defaultClients();

/**
 * Sends on whose SQS calls fail or crash the instance as often as attempts do: the window between the commit and the
 * sends, and between the sends and the outbox's emptying, is where an onward message would be lost or sent for nothing.
 */
const sendsUnderFaults = new Proxy(clients.sqs, {
  get: (target, property) =>
    property === 'send'
      ? async (command: Parameters<SQSClient['send']>[0]) => {
          if (command instanceof SendMessageCommand) {
            const mix = await faultMix(clients, endpointsFromEnv().tableName);
            const roll = Math.random();
            if (mix.enabled && roll < mix.crash) crashInstance();
            if (mix.enabled && roll < mix.crash + mix.transient) throw new Error('transient fault sending on');
          }
          return target.send(command as never);
        }
      : Reflect.get(target, property),
});

/** The flow's second hop: counts the event in the runtime's transaction, and sends it on to the ledger with it. */
export const handler = guaranteedConsumer({
  channel: chaosFlow,
  sendsTo: { chaosLedger },
  clients: { ...clients, sqs: sendsUnderFaults },
  handle: async (message, { tableName }) => {
    await faultsBeforeEffect(clients, tableName, message);
    return {
      writes: [{ Update: { TableName: tableName, ...countApplication(message.id, message.sentAt) } }],
      send: [{ channel: 'chaosLedger', payload: { id: `ledger-${message.id}`, poison: false, sentAt: Date.now() } }],
    };
  },
});
