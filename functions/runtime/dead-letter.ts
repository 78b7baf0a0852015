import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { DEAD_LETTER_REASON_MAX_CHARS, MessageAttribute } from '../../lib/policy/index.ts';

/**
 * Moves a message to the DLQ itself, with the reason and the attempt count as message attributes. The runtime
 * does this rather than leaving it to the redrive policy so that an operator reading the DLQ sees why each
 * message is there, and so that a message known to be hopeless does not burn its remaining receives.
 */
export async function sendToDeadLetterQueue(
  sqs: SQSClient,
  deadLetterQueueUrl: string,
  record: SQSRecord,
  verdict: { readonly reason: string; readonly attempts: number; readonly correlationId: string },
): Promise<string | undefined> {
  const groupId = record.attributes.MessageGroupId;
  const { MessageId } = await sqs.send(
    new SendMessageCommand({
      QueueUrl: deadLetterQueueUrl,
      MessageBody: record.body,
      MessageAttributes: {
        ...toSqsAttributes(record.messageAttributes),
        // The dedupe key travels with the copy: a message sent without one would otherwise come back from a redrive
        // under a new SQS message id, and two copies of it would be applied as two messages.
        [MessageAttribute.correlationId]: { DataType: 'String', StringValue: verdict.correlationId },
        [MessageAttribute.deadLetterReason]: { DataType: 'String', StringValue: shortened(verdict.reason) },
        [MessageAttribute.deadLetterAttempts]: { DataType: 'Number', StringValue: String(verdict.attempts) },
      },
      // A FIFO DLQ needs the group; the original message id dedupes a retried dead-lettering of the same receive.
      ...(groupId ? { MessageGroupId: groupId, MessageDeduplicationId: record.messageId } : {}),
    }),
  );
  return MessageId;
}

/** A reason cut to what a DLQ copy carries, so that any message the SDK accepts fits its DLQ with it. */
function shortened(reason: string): string {
  return reason.length <= DEAD_LETTER_REASON_MAX_CHARS ? reason : `${reason.slice(0, DEAD_LETTER_REASON_MAX_CHARS - 1)}…`;
}

/** Lambda's record shape (camelCase, lists) back to the SQS API's, keeping every attribute the sender set. */
function toSqsAttributes(attributes: SQSRecord['messageAttributes']): Record<string, MessageAttributeValue> {
  const result: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (name === MessageAttribute.deadLetterReason || name === MessageAttribute.deadLetterAttempts) continue;
    result[name] = {
      DataType: value.dataType,
      ...(value.stringValue !== undefined ? { StringValue: value.stringValue } : {}),
      ...(value.binaryValue !== undefined ? { BinaryValue: Buffer.from(value.binaryValue, 'base64') } : {}),
    };
  }
  return result;
}
