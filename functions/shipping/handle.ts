import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import type { shipping } from '../../lib/channels.ts';
import { StateKeys } from 'delivery-policies';
import type { HandlerOutcome, MessageContext } from 'delivery-policies/runtime';

/**
 * Hands a placed order to the warehouse, whose system is outside this service's transaction: its pick list, written
 * here by a call of its own, stands in for the warehouse's API. The runtime holds a lease on the event while this
 * runs and completes it after; a crash between the two repeats the call, so the warehouse takes each order once and
 * keeps the event's idempotency key.
 */
export async function handleShipment(event: z.infer<typeof shipping.schema>, { tableName, idempotencyKey, clients, logger }: MessageContext): Promise<HandlerOutcome> {
  try {
    await clients.dynamo.send(
      new PutCommand({
        TableName: tableName,
        Item: { [StateKeys.partitionKey]: `shipment#${event.orderId}`, [StateKeys.sortKey]: 'pick', customerId: event.customerId, idempotencyKey },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': StateKeys.partitionKey },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    logger.info('the warehouse already has this order: a repeated hand-over, dropped', { orderId: event.orderId });
  }
  return {};
}
