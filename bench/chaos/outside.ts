import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { defaultClients, guaranteedConsumer } from '../../functions/runtime/index.ts';
import { chaosOutside, type chaosShipping } from './channels.ts';
import { countApplication } from './effects.ts';
import { crashInstance, faultsBeforeEffect, nameEffect, trackingInvocations } from './faults.ts';

const clients = defaultClients();

/**
 * Applies a message with a plain write outside the runtime's transaction, as a call to another service would be, and
 * names each application: it adds its name to the counter item, and the reply carries the name of the one that
 * completed. Half the crash share falls before the effect, half between the effect and its completion. An
 * application that did not complete is excused only if the invocation that received its delivery was killed (a crash,
 * a timeout) or reported the delivery failed (the runtime gave up on it, and it may have run on past its lease).
 */
export function outsideConsumer(channel: typeof chaosOutside | typeof chaosShipping, idOf: (id: string) => string = (id) => id) {
  return trackingInvocations(
    clients,
    guaranteedConsumer({
      channel,
      clients,
      handle: async (message, { tableName, record }) => {
        const mix = await faultsBeforeEffect(clients, tableName, message, 0.5);
        const effect = nameEffect(record);
        await clients.dynamo.send(new UpdateCommand({ TableName: tableName, ...countApplication(idOf(message.id), message.sentAt, effect) }));
        if (mix.enabled && Math.random() < mix.crash / 2) crashInstance();
        return { reply: { effect } };
      },
    }),
  );
}

export const handler = outsideConsumer(chaosOutside);
