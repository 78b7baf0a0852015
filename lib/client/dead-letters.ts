import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { MessageAttribute, OutputKey } from '../policy/index.ts';
import type { MessagingClient } from './client.ts';
import { WrongPolicy } from './errors.ts';

export interface DeadLetter {
  readonly messageId: string;
  readonly correlationId?: string;
  readonly reason?: string;
  readonly attempts?: number;
  readonly body: string;
}

export interface RedriveResult {
  readonly moved: number;
  readonly failed: number;
  readonly mechanism: 'StartMessageMoveTask' | 'receive-send-delete';
}

/** The channel's queue and DLQ; only guaranteed channels have a DLQ. */
function queuesOf(client: MessagingClient, channelName: string) {
  const channel = client.channel(channelName);
  if (channel.policy.kind !== 'guaranteed') throw new WrongPolicy(`${channelName} is a ${channel.policy.kind} channel and has no DLQ`);
  return { queueUrl: client.output(OutputKey.queueUrl(channelName)), deadLetterQueueUrl: client.output(OutputKey.deadLetterQueueUrl(channelName)) };
}

/**
 * Reads up to `max` dead letters without consuming them: they are received, then made visible again at once,
 * so peeking loses nothing and a later redrive still finds every message.
 */
export async function peekDeadLetters(client: MessagingClient, channelName: string, max = 10): Promise<DeadLetter[]> {
  const { deadLetterQueueUrl } = queuesOf(client, channelName);
  const seen = new Map<string, Message>();
  while (seen.size < max) {
    const { Messages = [] } = await client.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, max - seen.size),
        VisibilityTimeout: 30,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const fresh = Messages.filter((message) => !seen.has(message.MessageId!));
    if (fresh.length === 0) break;
    for (const message of fresh) seen.set(message.MessageId!, message);
  }
  const messages = [...seen.values()];
  for (let index = 0; index < messages.length; index += 10) {
    await client.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: deadLetterQueueUrl,
        Entries: messages.slice(index, index + 10).map((message, offset) => ({ Id: String(offset), ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })),
      }),
    );
  }
  return messages.map((message) => ({
    messageId: message.MessageId!,
    correlationId: message.MessageAttributes?.[MessageAttribute.correlationId]?.StringValue,
    reason: message.MessageAttributes?.[MessageAttribute.deadLetterReason]?.StringValue,
    attempts: numberOrUndefined(message.MessageAttributes?.[MessageAttribute.deadLetterAttempts]?.StringValue),
    body: message.Body ?? '',
  }));
}

/**
 * Moves every dead letter back to its source queue. SQS's own StartMessageMoveTask where the endpoint has it;
 * otherwise a receive → send → delete loop that keeps the body, the sender's attributes (the correlation id
 * above all, so the consumer still dedupes) and the FIFO group, and deletes a message only after its copy is sent.
 */
export async function redriveDeadLetters(
  client: MessagingClient,
  channelName: string,
  onProgress: (moved: number) => void = () => {},
): Promise<RedriveResult> {
  const { queueUrl, deadLetterQueueUrl } = queuesOf(client, channelName);
  const [sourceArn, destinationArn] = await Promise.all([arnOf(client, deadLetterQueueUrl), arnOf(client, queueUrl)]);
  try {
    await client.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
  } catch (error) {
    if (!unsupported(error)) throw error;
    return redriveByHand(client, queueUrl, deadLetterQueueUrl, onProgress);
  }
  for (;;) {
    const { Results = [] } = await client.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
    const task = Results[0];
    onProgress(Number(task?.ApproximateNumberOfMessagesMoved ?? 0));
    if (task && task.Status !== 'RUNNING') {
      return { moved: Number(task.ApproximateNumberOfMessagesMoved ?? 0), failed: task.Status === 'COMPLETED' ? 0 : 1, mechanism: 'StartMessageMoveTask' };
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function redriveByHand(client: MessagingClient, queueUrl: string, deadLetterQueueUrl: string, onProgress: (moved: number) => void): Promise<RedriveResult> {
  let moved = 0;
  let failed = 0;
  for (;;) {
    const { Messages = [] } = await client.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: deadLetterQueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) return { moved, failed, mechanism: 'receive-send-delete' };
    for (const message of Messages) {
      try {
        const { [MessageAttribute.deadLetterReason]: _reason, [MessageAttribute.deadLetterAttempts]: _attempts, ...attributes } = message.MessageAttributes ?? {};
        const groupId = message.Attributes?.MessageGroupId;
        await client.sqs.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: message.Body!,
            MessageAttributes: attributes,
            ...(groupId ? { MessageGroupId: groupId, MessageDeduplicationId: message.Attributes?.MessageDeduplicationId ?? message.MessageId } : {}),
          }),
        );
        await client.sqs.send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
        moved += 1;
        onProgress(moved);
      } catch {
        // Left in the DLQ: it becomes visible again and a later redrive takes it.
        failed += 1;
      }
    }
    if (failed > 0 && moved === 0) return { moved, failed, mechanism: 'receive-send-delete' };
  }
}

/** Deletes every dead letter of a channel; returns how many there were. */
export async function purgeDeadLetters(client: MessagingClient, channelName: string): Promise<number> {
  const { deadLetterQueueUrl } = queuesOf(client, channelName);
  const { Attributes } = await client.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  await client.sqs.send(new PurgeQueueCommand({ QueueUrl: deadLetterQueueUrl }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

async function arnOf(client: MessagingClient, queueUrl: string): Promise<string> {
  const { Attributes } = await client.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes!.QueueArn!;
}

/** An endpoint without the move-task API (an emulator) answers with one of these. */
function unsupported(error: unknown): boolean {
  const text = `${(error as Error).name} ${(error as Error).message}`;
  return /Unsupported|InvalidAction|UnknownOperation|not (?:supported|implemented)|NotImplemented|InvalidParameterValue|404/i.test(text) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}

function numberOrUndefined(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}
