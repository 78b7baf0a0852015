import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { defaultClients, fireAndForgetConsumer } from '../../functions/runtime/index.ts';
import { chaosAnnounced } from './channels.ts';
import { ChaosKeys } from './channels.ts';

const clients = defaultClients();

/** The flow's fire-and-forget subscriber: counts what reaches it (a duplicate publish, never deduped, counts twice). */
export const handler = fireAndForgetConsumer({
  channel: chaosAnnounced,
  clients,
  handle: async (message, { tableName }) => {
    await clients.dynamo.send(new UpdateCommand({ TableName: tableName, Key: ChaosKeys.applied(`announced-${message.id}`), UpdateExpression: 'ADD applied :one', ExpressionAttributeValues: { ':one': 1 } }));
  },
});
