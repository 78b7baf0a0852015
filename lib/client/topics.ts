import { PublishBatchCommand, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { MessageAttribute, messageBytes, onTheWire, SNS_MAX_MESSAGE_BYTES, type TopicCatalog, type TopicDefinition } from '../policy/index.ts';
import { activeTraceAttributes } from '../policy/trace-context.ts';
import { InvalidArgument, MessageTooLarge, SchemaViolation, UnknownTopic } from './errors.ts';

/** What a publisher gives: the topic's schema input, as every subscriber's consumer reads it. */
export type EventOf<Topic extends TopicDefinition> = z.input<Topic['schema']>;

export interface PublishOptions {
  readonly abortSignal?: AbortSignal;
  /**
   * The event's key: every subscriber dedupes on it, so an event published again under the same key is applied once
   * by each. At most 128 printable ASCII characters. @default - a new UUID
   */
  readonly idempotencyKey?: string;
  /** FIFO topics: the message group, in whose order every subscriber gets its events. @default - the event's key */
  readonly groupId?: string;
}

export interface PublishBatchOptions<Event> {
  readonly abortSignal?: AbortSignal;
  /** Each event's key (see PublishOptions). @default - a new UUID per event */
  readonly idempotencyKeyOf?: (event: Event, index: number) => string;
  /** FIFO topics: the message group of the whole batch. @default - each event's own key */
  readonly groupId?: string;
}

/** What SNS's acceptance of an event means: it is stored, and each subscriber will get it under its own policy. */
export interface Publication<Name extends string = string> {
  readonly topic: Name;
  readonly messageId: string;
  readonly correlationId: string;
}

export interface PublishBatchResult<Name extends string = string> {
  /** In the events' order, each with its index among them. */
  readonly accepted: (Publication<Name> & { readonly index: number })[];
  /** Publish each again under its correlationId, so that an event SNS did take after all is applied once. */
  readonly rejected: { readonly index: number; readonly correlationId: string; readonly code: string; readonly message: string }[];
}

/** The named topic of the catalog, checked offline. */
export function topicFor(topics: TopicCatalog, name: string): TopicDefinition {
  const topic = Object.hasOwn(topics, name) ? topics[name] : undefined;
  if (!topic) throw new UnknownTopic(name, Object.keys(topics));
  return topic;
}

/** SQS's and SNS's rule for a FIFO deduplication id, applied to every key so that one key works on any topic. */
export function checkedKey(key: string | undefined): string | undefined {
  if (key !== undefined && !/^[\x21-\x7e]{1,128}$/.test(key)) {
    throw new InvalidArgument(`an idempotency key is 1 to 128 printable ASCII characters without spaces, not ${JSON.stringify(key.slice(0, 40))}`);
  }
  return key;
}

/** An event's body: its JSON, checked as every subscriber will check it, within the topic's size limit. */
export function encodeEvent(topic: TopicDefinition, event: unknown): string {
  const wire = onTheWire(topic.schema, event);
  if (!wire.success) throw new SchemaViolation(`${topic.name}: the event breaks the topic's schema: ${wire.issues}`);
  const bytes = Buffer.byteLength(wire.json, 'utf8');
  if (bytes > topic.maxMessageBytes) throw new MessageTooLarge(`${topic.name}: the event is ${bytes} bytes, over the topic's maxMessageBytes (${topic.maxMessageBytes})`);
  return wire.json;
}

/** The SNS entries for events: each checked against the topic's schema and size, with its key, time and FIFO ids. */
function eventEntries(topic: TopicDefinition, events: readonly unknown[], options: PublishBatchOptions<never>) {
  const now = String(Date.now());
  const traced = activeTraceAttributes();
  return events.map((event, index) => {
    const message = encodeEvent(topic, event);
    const correlationId = checkedKey(options.idempotencyKeyOf?.(event as never, index)) ?? randomUUID();
    return {
      Id: String(index),
      Message: message,
      // Raw delivery hands these to each subscriber's queue as SQS attributes, which its consumer reads as a sent message's.
      MessageAttributes: {
        [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId },
        [MessageAttribute.sentAt]: { DataType: 'Number', StringValue: now },
        ...traced,
      },
      ...(topic.fifo ? { MessageGroupId: options.groupId ?? correlationId, MessageDeduplicationId: correlationId } : {}),
      correlationId,
    };
  });
}

/** Publishes one event; resolves once SNS has accepted it. */
export async function publishEvent(sns: SNSClient, topicArn: string, topic: TopicDefinition, event: unknown, options: PublishOptions): Promise<Publication> {
  const key = checkedKey(options.idempotencyKey);
  const [{ correlationId, Id: _id, ...entry }] = eventEntries(topic, [event], { groupId: options.groupId, idempotencyKeyOf: key ? () => key : undefined }) as [ReturnType<typeof eventEntries>[number]];
  const { MessageId } = await sns.send(new PublishCommand({ TopicArn: topicArn, ...entry }), { abortSignal: options.abortSignal });
  return { topic: topic.name, messageId: MessageId!, correlationId };
}

/** Publishes up to 10 events in one PublishBatch, within SNS's limit for the batch together. */
export async function publishEvents(sns: SNSClient, topicArn: string, topic: TopicDefinition, events: readonly unknown[], options: PublishBatchOptions<never>): Promise<PublishBatchResult> {
  if (events.length < 1 || events.length > 10) throw new InvalidArgument('a batch holds 1 to 10 events');
  const entries = eventEntries(topic, events, options);
  const batchBytes = entries.reduce((total, entry) => total + messageBytes(entry.Message, entry.MessageAttributes), 0);
  if (batchBytes > SNS_MAX_MESSAGE_BYTES) {
    throw new MessageTooLarge(`${topic.name}: the batch is ${batchBytes} bytes, over SNS's limit for a batch's events together (${SNS_MAX_MESSAGE_BYTES}); publish fewer at once`);
  }
  const { Successful = [], Failed = [] } = await sns.send(
    new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries.map(({ correlationId: _c, Message, ...entry }) => ({ ...entry, Message })) }),
    { abortSignal: options.abortSignal },
  );
  const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
  return {
    accepted: Successful.map((success) => ({ topic: topic.name, messageId: success.MessageId!, correlationId: entries[Number(success.Id)]!.correlationId, index: Number(success.Id) })).sort(byIndex),
    rejected: Failed.map((failure) => ({ index: Number(failure.Id), correlationId: entries[Number(failure.Id)]!.correlationId, code: failure.Code ?? 'Unknown', message: failure.Message ?? '' })).sort(byIndex),
  };
}
