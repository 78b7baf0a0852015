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
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES, MessageAttribute, OutputKey, parseMessage, unfoldAttributes, type ChannelDefinition, type LifecycleRecord } from '../policy/index.ts';
import type { MessagingClient } from './client.ts';
import { channelFor } from './checks.ts';
import { InvalidArgument } from './errors.ts';

export interface DeadLetter {
  readonly messageId: string;
  readonly correlationId?: string;
  /**
   * The runtime's reason; for a message SQS's redrive policy moved (the runtime had no chance to give one), what its
   * lifecycle record says became of it.
   */
  readonly reason: string;
  readonly attempts?: number;
  readonly body: string;
  /** Its lifecycle record on the channel, if there is one. */
  readonly record?: LifecycleRecord;
}

export interface RedriveResult {
  readonly moved: number;
  /** Dead letters this redrive could not move; they stay in the DLQ. */
  readonly failed: number;
  /**
   * Dead letters in the DLQ when the redrive ended: those that failed, and those that arrived while it ran (a live
   * consumer dead-lettering again what it moved), which it leaves for a later redrive rather than chase.
   */
  readonly remaining: number;
  readonly mechanism: 'StartMessageMoveTask' | 'receive-send-delete';
  /** Why SQS's move task stopped, when it failed. */
  readonly failureReason?: string;
  /** With `skipApplied`: dead letters deleted because their effect is applied and their onward messages sent. */
  readonly skipped?: number;
  /** With `only`: the ids asked for that no dead letter had. */
  readonly notFound?: readonly string[];
}

/** The channel's queue and DLQ; only guaranteed channels have a DLQ. */
function queuesOf(client: MessagingClient, channelName: string) {
  channelFor(client.channels, channelName, 'deadLetters');
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
  await giveBack(client.sqs, deadLetterQueueUrl, messages);
  return Promise.all(
    messages.map(async (message) => {
      const correlationId = message.MessageAttributes?.[MessageAttribute.correlationId]?.StringValue;
      const [status] = await client.status(correlationId ?? message.MessageId!, { channel: channelName });
      const record = status && 'history' in status ? status : undefined;
      return {
        messageId: message.MessageId!,
        correlationId,
        reason: message.MessageAttributes?.[MessageAttribute.deadLetterReason]?.StringValue ?? movedWithoutReason(record),
        attempts: numberOrUndefined(message.MessageAttributes?.[MessageAttribute.deadLetterAttempts]?.StringValue),
        body: message.Body ?? '',
        record,
      };
    }),
  );
}

/** What a redrive would do with one dead letter, from its lifecycle record and its channel's schema. */
export type RedriveVerdict = 'duplicate' | 'finishes-outbox' | 'fails-schema' | 'retried';

export interface RedrivePreview {
  readonly channel: string;
  readonly letters: readonly (DeadLetter & { readonly verdict: RedriveVerdict; readonly why: string })[];
  readonly counts: Readonly<Record<RedriveVerdict, number>>;
  /** Dead letters in the DLQ beyond the ones read. */
  readonly notRead: number;
}

/**
 * A redrive's dry run: what each dead letter would do back on its queue. A message whose effect is applied is a
 * duplicate (it applies nothing; one with onward messages still to send sends them); one whose body its channel's
 * schema refuses is dead-lettered again at once; any other is retried with a fresh attempt budget. Reads only; `only`
 * narrows it to the dead letters of those message or correlation ids.
 */
export async function previewRedrive(client: MessagingClient, channelName: string, max = 100, only?: readonly string[]): Promise<RedrivePreview> {
  const chosen = (letter: DeadLetter) => !only || only.includes(letter.messageId) || (letter.correlationId !== undefined && only.includes(letter.correlationId));
  const read = await peekDeadLetters(client, channelName, max);
  const letters = read.filter(chosen).map(({ record, ...letter }) => ({ ...letter, ...verdictOf(client.channels[channelName]!, record, letter.body) }));
  const counts: Record<RedriveVerdict, number> = { duplicate: 0, 'finishes-outbox': 0, 'fails-schema': 0, retried: 0 };
  for (const letter of letters) counts[letter.verdict] += 1;
  const inQueue = await queueDepth(client.sqs, queuesOf(client, channelName).deadLetterQueueUrl);
  return { channel: channelName, letters, counts, notRead: Math.max(0, inQueue - read.length) };
}

function verdictOf(channel: ChannelDefinition, record: LifecycleRecord | undefined, body: string): { verdict: RedriveVerdict; why: string } {
  if (record?.status === 'succeeded') {
    const pending = record.outbox?.length ?? 0;
    return pending > 0
      ? { verdict: 'finishes-outbox', why: `its effect is applied; it sends its ${pending} onward message${pending === 1 ? '' : 's'} still unsent, applying nothing again` }
      : { verdict: 'duplicate', why: 'its effect is applied: it is skipped as a duplicate' };
  }
  const parsed = parseMessage(channel.schema, body);
  if (!parsed.success) return { verdict: 'fails-schema', why: `dead-lettered again at once: ${parsed.reason}` };
  return { verdict: 'retried', why: 'retried, with a fresh attempt budget' };
}

/** A preview as a person reads it: the counts, then a line per dead letter. */
export function renderRedrivePreview(preview: RedrivePreview): string {
  const { counts } = preview;
  const more = preview.notRead > 0 ? ` (${preview.notRead} more in the DLQ not read: raise --max)` : '';
  const lines = [
    `${preview.channel}: ${preview.letters.length} dead letters read${more}; a redrive would retry ${counts.retried}, skip ${counts.duplicate} already applied, finish the outbox of ${counts['finishes-outbox']}, and dead-letter ${counts['fails-schema']} again at once`,
    ...preview.letters.map((letter) => `  ${letter.correlationId ?? letter.messageId}  ${letter.why}  (dead-lettered: ${letter.reason})`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * A dead letter with no reason attached is the original, moved by the queue's redrive policy after its last receive:
 * every receive ended before the runtime could decide (timeouts, crashes), or a queue not built by a Channel. Its
 * lifecycle record tells what became of it, and so what its redrive will do.
 */
function movedWithoutReason(record: LifecycleRecord | undefined): string {
  const moved = "no reason attached: the queue's redrive policy moved it after its last receive";
  if (!record) return `${moved}, and no attempt of it was recorded (each one timed out or crashed before its end)`;
  if (record.status === 'succeeded') {
    const pending = record.outbox?.length ?? 0;
    return pending > 0
      ? `${moved}; its effect is applied, and ${pending} onward message${pending === 1 ? ' was' : 's were'} not yet sent: a redrive sends them, applying nothing again`
      : `${moved}; its effect is applied: a redrive skips it as a duplicate`;
  }
  if (record.status === 'dead-lettered') return `${moved}; its record says dead-lettered: ${record.reason ?? 'no reason recorded'}`;
  const last = record.reason ? `, the last failing with: ${record.reason}` : ', none of them finished (a timeout or a crash)';
  return `${moved}, after ${record.attempts} recorded attempt${record.attempts === 1 ? '' : 's'}${last}`;
}

/** How far SQS's clock may run behind this one, for telling our move task from an earlier one. */
const CLOCK_SKEW_MS = 5000;

export interface RedriveOptions {
  /**
   * Only these dead letters, each by its message id or correlation id; the others stay in the DLQ as they were. On a
   * FIFO DLQ, a dead letter behind others of its message group is reached only if they are named too: SQS gives a
   * group's messages in order, and those passed over hold the group until the pass ends.
   */
  readonly only?: readonly string[];
  /**
   * Deletes, instead of moving, the dead letters whose effect is applied and whose onward messages are all sent: back
   * on the queue each would only be skipped as a duplicate.
   */
  readonly skipApplied?: boolean;
  /** Moves at most this many a second, so that a consumer's downstream is not flooded. */
  readonly perSecond?: number;
  /** The body the one dead letter `only` names goes back with (an edited payload); the channel's schema checks it first. */
  readonly body?: string;
  readonly onProgress?: (moved: number) => void;
}

/**
 * Moves the dead letters back to their source queue. All of them: SQS's own StartMessageMoveTask where the endpoint
 * has it. Some of them (`only`, `skipApplied`), paced (`perSecond`) or edited (`body`), or on an endpoint without move
 * tasks: a receive → send → delete loop that keeps the body, the sender's attributes (the correlation id above all, so
 * the consumer still dedupes) and the FIFO group, and deletes a message only after its copy is sent. The loop moves at
 * most as many as the DLQ held when it started, so a consumer that dead-letters again what it moves cannot keep it
 * running; what arrives meanwhile is counted in `remaining`.
 */
export async function redriveDeadLetters(client: MessagingClient, channelName: string, options: RedriveOptions = {}): Promise<RedriveResult> {
  const { queueUrl, deadLetterQueueUrl } = queuesOf(client, channelName);
  const onProgress = options.onProgress ?? (() => {});
  if (options.body !== undefined) {
    if (options.only?.length !== 1) throw new InvalidArgument('an edited body replaces one dead letter: name exactly one');
    const parsed = parseMessage(client.channels[channelName]!.schema, options.body);
    if (!parsed.success) throw new InvalidArgument(`the edited body would be dead-lettered again at once: ${parsed.reason}`);
  }
  if (options.perSecond !== undefined && !(options.perSecond > 0)) throw new InvalidArgument(`the rate must be a positive number of messages a second, not ${options.perSecond}`);
  if (options.only || options.skipApplied || options.perSecond || options.body !== undefined) {
    return redriveByHand(client, channelName, queueUrl, deadLetterQueueUrl, { ...options, onProgress });
  }
  const [sourceArn, destinationArn] = await Promise.all([arnOf(client, deadLetterQueueUrl), arnOf(client, queueUrl)]);
  let taskHandle: string | undefined;
  const asked = Date.now();
  try {
    ({ TaskHandle: taskHandle } = await client.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn })));
  } catch (error) {
    if (!withoutMoveTasks(error)) throw error;
    return redriveByHand(client, channelName, queueUrl, deadLetterQueueUrl, { onProgress });
  }
  for (;;) {
    const { Results = [] } = await client.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    // Ours by its handle, or once over (a finished task lists without one) the newest without one that started when
    // ours did, give or take the clocks: one runs at a time per DLQ, and an earlier one may be listed before ours is.
    const task =
      Results.find((entry) => entry.TaskHandle === taskHandle) ??
      Results.find((entry) => entry.TaskHandle === undefined && Number(entry.StartedTimestamp ?? 0) >= asked - CLOCK_SKEW_MS);
    const moved = Number(task?.ApproximateNumberOfMessagesMoved ?? 0);
    onProgress(moved);
    if (task && task.Status !== 'RUNNING' && task.Status !== 'CANCELLING') {
      const remaining = await queueDepth(client.sqs, deadLetterQueueUrl);
      if (task.Status === 'COMPLETED') return { moved, failed: 0, remaining, mechanism: 'StartMessageMoveTask' };
      // A task that failed or was cancelled left in the DLQ what it did not move, of what it set out to move.
      const toMove = task.ApproximateNumberOfMessagesToMove;
      const failed = toMove === undefined ? remaining : Math.max(0, Number(toMove) - moved);
      return { moved, failed, remaining, mechanism: 'StartMessageMoveTask', ...(task.FailureReason ? { failureReason: task.FailureReason } : {}) };
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * How long a dead letter the redrive passes over stays hidden: long enough that the loop's receives bring each message
 * once, and given back (made visible) as soon as the loop ends.
 */
const PASSED_OVER_SECONDS = 300;

async function redriveByHand(
  client: MessagingClient,
  channelName: string,
  queueUrl: string,
  deadLetterQueueUrl: string,
  options: RedriveOptions & { readonly onProgress: (moved: number) => void },
): Promise<RedriveResult> {
  // Only what is there now: messages a live consumer dead-letters again meanwhile would otherwise keep it going.
  const presentAtStart = await queueDepth(client.sqs, deadLetterQueueUrl, ['ApproximateNumberOfMessages']);
  const wanted = options.only ? new Set(options.only) : undefined;
  const passedOver: Message[] = [];
  const started = Date.now();
  let moved = 0;
  let failed = 0;
  let skipped = 0;
  const seen = () => moved + failed + skipped + passedOver.length;
  // Paced, a receive takes no more than it sends in half its visibility timeout: a message still held when that ran out
  // would come back to another receive and be sent twice.
  const visibilitySeconds = wanted ? PASSED_OVER_SECONDS : 60;
  const perReceive = options.perSecond ? Math.max(1, Math.min(10, Math.floor((options.perSecond * visibilitySeconds) / 2))) : 10;
  /** Waits, when paced, until the next send is due. */
  const paced = () => (options.perSecond ? untilDue(started + (moved / options.perSecond) * 1000) : undefined);
  try {
    while (seen() < presentAtStart && (!wanted || wanted.size > 0)) {
      // Paced, a message is received only when it is due to be sent.
      await paced();
      const { Messages = [] } = await client.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MaxNumberOfMessages: Math.min(perReceive, presentAtStart - seen()),
          VisibilityTimeout: visibilitySeconds,
          // A long poll asks every SQS host, so an empty answer means the DLQ has nothing left to give now.
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        const correlationId = message.MessageAttributes?.[MessageAttribute.correlationId]?.StringValue;
        const name = [message.MessageId!, correlationId].find((id) => id !== undefined && wanted?.has(id));
        if (wanted && name === undefined) {
          passedOver.push(message);
          continue;
        }
        if (name !== undefined) wanted!.delete(name);
        try {
          if (options.skipApplied && (await verdictOnQueue(client, channelName, correlationId ?? message.MessageId!, message.Body ?? '')) === 'duplicate') {
            await client.sqs.send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
            skipped += 1;
            continue;
          }
          await paced();
          await client.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, ...resendOf(message), ...(options.body !== undefined ? { MessageBody: options.body } : {}) }));
          await client.sqs.send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
          moved += 1;
          options.onProgress(moved);
        } catch {
          // Left in the DLQ: it becomes visible again and a later redrive takes it.
          failed += 1;
        }
      }
    }
  } finally {
    await giveBack(client.sqs, deadLetterQueueUrl, passedOver);
  }
  return {
    moved,
    failed,
    remaining: await queueDepth(client.sqs, deadLetterQueueUrl),
    mechanism: 'receive-send-delete',
    ...(options.skipApplied ? { skipped } : {}),
    ...(wanted && wanted.size > 0 ? { notFound: [...wanted] } : {}),
  };
}

/** What one dead letter would do back on its queue, by its lifecycle record: the preview's verdict, so the two agree. */
async function verdictOnQueue(client: MessagingClient, channelName: string, correlationId: string, body: string): Promise<RedriveVerdict> {
  const [status] = await client.status(correlationId, { channel: channelName });
  return verdictOf(client.channels[channelName]!, status && 'history' in status ? status : undefined, body).verdict;
}

function untilDue(at: number): Promise<void> {
  const wait = at - Date.now();
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
}

/** Makes received messages visible again at once, ten to a call. */
async function giveBack(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let index = 0; index < messages.length; index += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(index, index + 10).map((message, offset) => ({ Id: String(offset), ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })),
      }),
    );
  }
}

/**
 * A dead letter as it goes back: its body, the sender's attributes without the runtime's dead-letter ones, and on
 * FIFO its group. Not its deduplication id: the source queue has seen that one (SQS's redrive policy keeps it), and
 * within 5 minutes would accept the copy and drop it, after which deleting the DLQ copy loses the message. The DLQ
 * copy's own id is new to the source queue and the same on every try, so a redrive retried after a send whose
 * answer was lost still sends it once.
 */
function resendOf(message: Message) {
  const copied = message.MessageAttributes ?? {};
  // The sender's attributes as sent: those the copy folded into one unfolded, the runtime's dead-letter ones dropped.
  const unfolded = Object.entries(unfoldAttributes(copied[MessageAttribute.foldedAttributes]?.StringValue)).map(([name, value]): [string, MessageAttributeValue] => [
    name,
    { DataType: value.DataType, StringValue: value.StringValue, ...(value.BinaryValue !== undefined ? { BinaryValue: Buffer.from(value.BinaryValue, 'base64') } : {}) },
  ]);
  const attributes = Object.fromEntries([...unfolded, ...Object.entries(copied).filter(([name]) => !DEAD_LETTER_ATTRIBUTES.includes(name))]);
  const groupId = message.Attributes?.MessageGroupId;
  return {
    MessageBody: message.Body!,
    MessageAttributes: attributes,
    ...(groupId ? { MessageGroupId: groupId, MessageDeduplicationId: `redrive-${message.MessageId}` } : {}),
  };
}

/** Deletes every dead letter of a channel; returns how many there were. */
export async function purgeDeadLetters(client: MessagingClient, channelName: string): Promise<number> {
  const { deadLetterQueueUrl } = queuesOf(client, channelName);
  const count = await queueDepth(client.sqs, deadLetterQueueUrl);
  await client.sqs.send(new PurgeQueueCommand({ QueueUrl: deadLetterQueueUrl }));
  return count;
}

type QueueCount = 'ApproximateNumberOfMessages' | 'ApproximateNumberOfMessagesNotVisible' | 'ApproximateNumberOfMessagesDelayed';
const ALL_COUNTS: readonly QueueCount[] = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'];

/** SQS's approximate counts of a queue's messages, each on its own, in the order asked. */
export async function queueCounts(sqs: SQSClient, queueUrl: string, counts: readonly QueueCount[] = ALL_COUNTS): Promise<number[]> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...counts] }));
  return counts.map((name) => Number(Attributes?.[name] ?? 0));
}

/** Messages in a queue: visible, in flight and delayed, unless `counts` narrows it. */
export async function queueDepth(sqs: SQSClient, queueUrl: string, counts: readonly QueueCount[] = ALL_COUNTS): Promise<number> {
  return (await queueCounts(sqs, queueUrl, counts)).reduce((sum, count) => sum + count, 0);
}

async function arnOf(client: MessagingClient, queueUrl: string): Promise<string> {
  const { Attributes } = await client.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes!.QueueArn!;
}

/**
 * The answers of an endpoint without the move-task API (an emulator: fauxqs says InvalidAction, others
 * UnsupportedOperation or 501). Nothing else falls back: a denied or failed move must be seen, not done another way.
 */
function withoutMoveTasks(error: unknown): boolean {
  const name = (error as Error).name;
  return ['InvalidAction', 'UnsupportedOperation', 'UnknownOperationException'].includes(name) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501;
}

function numberOrUndefined(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}
