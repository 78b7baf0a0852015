import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { defaultClients, guaranteedConsumer } from '../../functions/runtime/index.ts';
import { chaosOutside } from './channels.ts';
import { countApplication } from './effects.ts';
import { crashInstance, faultsBeforeEffect, nameEffect, namingInvocations } from './faults.ts';

const clients = defaultClients();

/**
 * Applies a message with a plain write outside the runtime's transaction, as a call to another service would be, and
 * names each application: it adds its name to the counter item, and the reply carries the name of the one that
 * completed. Half the crash share falls before the effect, half between the effect and its completion.
 */
export const handler = namingInvocations(
  guaranteedConsumer({
    channel: chaosOutside,
    clients,
    handle: async (message, { tableName }) => {
      const mix = await faultsBeforeEffect(clients, tableName, message, 0.5);
      const effect = nameEffect();
      await clients.dynamo.send(new UpdateCommand({ TableName: tableName, ...countApplication(message.id, message.sentAt, effect) }));
      if (mix.enabled && Math.random() < mix.crash / 2) await crashInstance(clients, tableName);
      return { reply: { effect } };
    },
  }),
);
