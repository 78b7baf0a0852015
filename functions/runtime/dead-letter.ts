import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  attributeBytes,
  DEAD_LETTER_ATTRIBUTES,
  DEAD_LETTER_REASON_MAX_CHARS,
  foldAttributes,
  MessageAttribute,
  messageBytes,
  SQS_MAX_ATTRIBUTES,
  SQS_MAX_MESSAGE_BYTES,
  unfoldAttributes,
  type WireAttribute,
} from '../../lib/policy/index.ts';
import { ConsumerRuntimeError } from './errors.ts';

/** Why a message is dead-lettered, and what its copy carries of it. */
export interface Verdict {
  readonly reason: string;
  readonly attempts: number;
  readonly correlationId: string;
}

/**
 * No copy SQS would take can carry the message to its DLQ: its body and attributes leave no room for a reason. A queue
 * a Channel builds cannot hold such a message (its size limit keeps that room); one built otherwise can.
 */
export class DeadLetterCopyTooLarge extends ConsumerRuntimeError {
  public readonly code = 'DEAD_LETTER_COPY_TOO_LARGE';
}

/**
 * Moves a message to the DLQ itself, with the reason and the attempt count as message attributes. The runtime
 * does this rather than leaving it to the redrive policy so that an operator reading the DLQ sees why each
 * message is there, and so that a message known to be hopeless does not burn its remaining receives.
 */
export async function sendToDeadLetterQueue(sqs: SQSClient, deadLetterQueueUrl: string, record: SQSRecord, verdict: Verdict): Promise<void> {
  const { body, attributes } = deadLetterCopy(record, verdict);
  const groupId = record.attributes.MessageGroupId;
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: deadLetterQueueUrl,
      MessageBody: body,
      MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, toSqs(value)])),
      // A FIFO DLQ needs the group; the original message id dedupes a retried dead-lettering of the same receive.
      ...(groupId ? { MessageGroupId: groupId, MessageDeduplicationId: record.messageId } : {}),
    }),
  );
}

/**
 * A record's DLQ copy as SQS takes it: its body, and at most ten attributes within SQS's size limit. The sender's
 * attributes travel as they are, or folded into one when with the runtime's they would be more than ten (a handler, and
 * a redrive, see them unfolded: recordAsSent). The dedupe key travels too: a message sent without one would otherwise
 * come back from a redrive under a new SQS message id, and two copies of it would be applied as two messages. The reason
 * is cut to the room left; the lifecycle record keeps it whole.
 */
export function deadLetterCopy(record: SQSRecord, verdict: Verdict): { body: string; attributes: Record<string, WireAttribute> } {
  const sender = sendersAttributes(record);
  const runtimes: Record<string, WireAttribute> = {
    [MessageAttribute.correlationId]: { DataType: 'String', StringValue: verdict.correlationId },
    [MessageAttribute.deadLetterAttempts]: { DataType: 'Number', StringValue: String(verdict.attempts) },
  };
  const fits = Object.keys(sender).length + Object.keys(runtimes).length + 1 <= SQS_MAX_ATTRIBUTES;
  const kept = fits ? sender : { [MessageAttribute.foldedAttributes]: { DataType: 'String', StringValue: foldAttributes(sender) } };
  const attributes = { ...kept, ...runtimes };
  const room = SQS_MAX_MESSAGE_BYTES - messageBytes(record.body, attributes) - attributeBytes(MessageAttribute.deadLetterReason, { DataType: 'String' });
  const reason = cutToBytes(verdict.reason, room);
  if (reason === undefined) {
    throw new DeadLetterCopyTooLarge(`no DLQ copy of ${record.messageId} fits SQS's ${SQS_MAX_MESSAGE_BYTES} bytes with a reason: its body and attributes take ${SQS_MAX_MESSAGE_BYTES - room}`);
  }
  return { body: record.body, attributes: { ...attributes, [MessageAttribute.deadLetterReason]: { DataType: 'String', StringValue: reason } } };
}

/**
 * The record as its sender sent it: the attributes a DLQ copy folded into one unfolded, and the runtime's dead-letter
 * attributes left out (a redrive by StartMessageMoveTask brings a copy back as it is in the DLQ).
 */
export function recordAsSent(record: SQSRecord): SQSRecord {
  const attributes = record.messageAttributes ?? {};
  if (!DEAD_LETTER_ATTRIBUTES.some((name) => name in attributes)) return record;
  const unfolded = Object.fromEntries(
    Object.entries(unfoldAttributes(attributes[MessageAttribute.foldedAttributes]?.stringValue)).map(([name, value]) => [
      name,
      { dataType: value.DataType, stringValue: value.StringValue, binaryValue: value.BinaryValue, stringListValues: [], binaryListValues: [] },
    ]),
  );
  const sent = Object.fromEntries(Object.entries(attributes).filter(([name]) => !DEAD_LETTER_ATTRIBUTES.includes(name)));
  return { ...record, messageAttributes: { ...unfolded, ...sent } };
}

/** The sender's attributes of a record (unfolded), without the correlation id and the runtime's dead-letter ones. */
function sendersAttributes(record: SQSRecord): Record<string, WireAttribute> {
  const sent: Record<string, WireAttribute> = {};
  for (const [name, value] of Object.entries(recordAsSent(record).messageAttributes ?? {})) {
    if (name === MessageAttribute.correlationId) continue;
    sent[name] = {
      DataType: value.dataType,
      ...(value.stringValue !== undefined ? { StringValue: value.stringValue } : {}),
      ...(value.binaryValue !== undefined ? { BinaryValue: value.binaryValue } : {}),
    };
  }
  return sent;
}

/**
 * A reason cut to at most DEAD_LETTER_REASON_MAX_CHARS characters and `bytes` UTF-8 bytes, ending in "…" where it was
 * cut; undefined when not even one character and the ellipsis fit.
 */
function cutToBytes(reason: string, bytes: number): string | undefined {
  if (reason.length <= DEAD_LETTER_REASON_MAX_CHARS && Buffer.byteLength(reason) <= bytes) return reason;
  const budget = bytes - Buffer.byteLength('…');
  let cut = '';
  let used = 0;
  for (const character of reason) {
    const size = Buffer.byteLength(character);
    if (cut.length + character.length > DEAD_LETTER_REASON_MAX_CHARS - 1 || used + size > budget) break;
    cut += character;
    used += size;
  }
  return cut.length > 0 ? `${cut}…` : undefined;
}

function toSqs(value: WireAttribute): MessageAttributeValue {
  return {
    DataType: value.DataType,
    ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
    ...(value.BinaryValue !== undefined ? { BinaryValue: Buffer.from(value.BinaryValue, 'base64') } : {}),
  };
}
