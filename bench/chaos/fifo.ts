import { chaosFifo, ChaosKeys } from './channels.ts';
import { countingConsumer } from './effects.ts';

/** The count, and the message's place appended to its group's order list in the same transaction. */
export const handler = countingConsumer(chaosFifo, (message, tableName) => [
  {
    Update: {
      TableName: tableName,
      Key: ChaosKeys.group(message.group!),
      UpdateExpression: 'SET applied = list_append(if_not_exists(applied, :empty), :seq)',
      ExpressionAttributeValues: { ':empty': [], ':seq': [message.seq!] },
    },
  },
]);
