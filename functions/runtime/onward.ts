import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSRecord } from 'aws-lambda';
import { createHash } from 'node:crypto';
import {
  MessageAttribute,
  onTheWire,
  OutputKey,
  SenderEnv,
  type Catalog,
  type OnwardMessage,
  type PayloadOf,
  type TopicCatalog,
  type WireAttribute,
} from '../../lib/policy/index.ts';
import type { z } from 'zod';
import type { ConsumerClients } from './config.ts';
import { PermanentError } from './errors.ts';

/** The channels a handler may send on to, and the topics it may publish to, as the channels module exports them. */
export interface OnwardTargets {
  readonly channels: Catalog;
  readonly topics: TopicCatalog;
}

/** A handler that sends nothing on. */
export type NoOnward = { readonly channels: Record<never, never>; readonly topics: Record<never, never> };

/** A message to one of the channels the consumer sends to, typed by that channel's schema. */
export type OnwardSend<Channels extends Catalog> = {
  [Name in keyof Channels & string]: { readonly channel: Name; readonly payload: PayloadOf<Channels[Name]>; readonly groupId?: string };
}[keyof Channels & string];

/** An event to one of the topics the consumer publishes to, typed by that topic's schema. */
export type OnwardPublish<Topics extends TopicCatalog> = {
  [Name in keyof Topics & string]: { readonly topic: Name; readonly event: z.input<Topics[Name]['schema']>; readonly groupId?: string };
}[keyof Topics & string];

/** What a handler sends on, beside its effect: sent after the effect commits, and never if it does not. */
export interface Onward<Targets extends OnwardTargets = NoOnward> {
  readonly send?: readonly OnwardSend<Targets['channels']>[];
  readonly publish?: readonly OnwardPublish<Targets['topics']>[];
}

/** Onward messages of any targets, as the runtime reads them whatever a handler's types. */
export interface AnyOnward {
  readonly send?: readonly { readonly channel: string; readonly payload: unknown; readonly groupId?: string }[];
  readonly publish?: readonly { readonly topic: string; readonly event: unknown; readonly groupId?: string }[];
}

/** The message being handled, as its onward messages refer to it. */
export interface Cause {
  readonly channel: string;
  readonly correlationId: string;
  /** The flow it belongs to: its own correlation id when it began one. */
  readonly flowId: string;
  /** The attribute that carries its span's trace context on (see tracing.ts); none when it has no trace. */
  readonly trace?: Readonly<Record<string, WireAttribute>>;
}

/** The most onward messages one handler returns, and their bodies together: the lifecycle record keeps them (400 KB an item). */
export const MAX_ONWARD_MESSAGES = 25;
export const MAX_ONWARD_BYTES = 256 * 1024;

/**
 * A handler's onward messages, each checked against its target's schema and limits and given its id: a hash of the
 * cause and its place, so that sending it again (after a crash, from the next delivery) is the same message
 * downstream, deduped there. What cannot be sent is a handler bug, never transient: a PermanentError.
 */
export function prepareOnward(onward: AnyOnward, targets: Partial<OnwardTargets>, cause: Cause, now: number): OnwardMessage[] {
  const requested = [
    ...(onward.send ?? []).map((message) => ({ kind: 'channel' as const, target: message.channel, value: message.payload, groupId: message.groupId })),
    ...(onward.publish ?? []).map((message) => ({ kind: 'topic' as const, target: message.topic, value: message.event, groupId: message.groupId })),
  ];
  if (requested.length > MAX_ONWARD_MESSAGES) throw new PermanentError(`the handler sends ${requested.length} messages on; at most ${MAX_ONWARD_MESSAGES}`);
  const prepared = requested.map(({ kind, target, value, groupId }, index): OnwardMessage => {
    const channel = kind === 'channel' ? ownEntry(targets.channels, target) : undefined;
    const topic = kind === 'topic' ? ownEntry(targets.topics, target) : undefined;
    const definition = channel ?? topic;
    if (!definition) throw new PermanentError(`the handler sends on to the ${kind} ${target}, which its consumer does not declare (${kind === 'channel' ? 'sendsTo' : 'publishesTo'})`);
    const wire = onTheWire(definition.schema, value);
    if (!wire.success) throw new PermanentError(`the handler's message to the ${kind} ${target} breaks its schema: ${wire.issues}`);
    const policy = channel?.policy;
    if (policy?.kind === 'request-response') throw new PermanentError(`the handler sends on to ${target}, a request-response channel: ask it in the handler instead`);
    const limit = policy ? policy.maxMessageBytes : topic!.maxMessageBytes;
    if (Buffer.byteLength(wire.json) > limit) throw new PermanentError(`the handler's message to the ${kind} ${target} is over its limit of ${limit} bytes`);
    const correlationId = onwardId(cause, index);
    const attributes: Record<string, WireAttribute> = {
      [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId },
      [MessageAttribute.sentAt]: { DataType: 'Number', StringValue: String(now) },
      [MessageAttribute.flowId]: { DataType: 'String', StringValue: cause.flowId },
      [MessageAttribute.causationId]: { DataType: 'String', StringValue: cause.correlationId },
      ...cause.trace,
    };
    // Counted from the commit, not from a resend: a late send does not make a message live longer.
    if (policy?.kind === 'fire-and-forget') attributes[MessageAttribute.expiresAt] = { DataType: 'Number', StringValue: String(now + policy.timeToLiveSeconds * 1000) };
    const fifo = policy ? policy.kind === 'guaranteed' && policy.fifo : topic!.fifo;
    return { kind, target, correlationId, body: wire.json, attributes, ...(fifo ? { groupId: groupId ?? correlationId } : {}) };
  });
  const bytes = prepared.reduce((total, message) => total + Buffer.byteLength(message.body), 0);
  if (bytes > MAX_ONWARD_BYTES) throw new PermanentError(`the handler's onward messages are ${bytes} bytes together; at most ${MAX_ONWARD_BYTES}, which its lifecycle record keeps until they are sent`);
  return prepared;
}

/** A delivered message's dedupe key: the SDK's correlation id, or the SQS message id for a message sent behind the SDK's back. */
export function correlationIdOf(record: SQSRecord): string {
  return record.messageAttributes?.[MessageAttribute.correlationId]?.stringValue ?? record.messageId;
}

/** The flow a delivered message belongs to, from its attributes: a message that began a flow is its own flow. */
export function flowOf(attributes: SQSRecord['messageAttributes'] | undefined, correlationId: string): { flowId: string; causationId?: string } {
  const causationId = attributes?.[MessageAttribute.causationId]?.stringValue;
  return { flowId: attributes?.[MessageAttribute.flowId]?.stringValue ?? correlationId, ...(causationId === undefined ? {} : { causationId }) };
}

/** The id of a cause's onward message: the same for the same cause and place, on every delivery and every resend. */
export function onwardId(cause: Cause, index: number): string {
  return createHash('sha256').update(`${cause.channel}\n${cause.correlationId}\n${index}`).digest('hex').slice(0, 40);
}

/** Where onward messages go: the queue URLs and topic ARNs the catalog's grants put in the consumer's environment. */
export function outputsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).flatMap(([name, value]) => (name.startsWith(SenderEnv.prefix) && value ? [[name.slice(SenderEnv.prefix.length), value]] : [])));
}

export interface OnwardClients {
  readonly sqs: { send(command: SendMessageCommand): Promise<unknown> };
  /** Made on first use: a consumer that publishes nothing loads no SNS client. */
  readonly sns: () => Promise<Pick<SNSClient, 'send'>>;
}

/**
 * Sends onward messages, in order (a FIFO group's order is its order among them). Throws on the first that fails: the
 * rest are sent again with it by the next delivery, under the same ids.
 */
export async function deliverOnward(messages: readonly OnwardMessage[], clients: OnwardClients, outputs: Readonly<Record<string, string>>): Promise<void> {
  for (const message of messages) {
    const fifo = message.groupId === undefined ? {} : { MessageGroupId: message.groupId, MessageDeduplicationId: message.correlationId };
    if (message.kind === 'channel') {
      const queueUrl = outputs[OutputKey.queueUrl(message.target)];
      if (!queueUrl) throw new Error(`no queue URL for ${message.target}: grant the consumer sending on it (ChannelCatalog's onward)`);
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: message.body, MessageAttributes: textAttributes(message.attributes), ...fifo }));
    } else {
      const topicArn = outputs[OutputKey.topicArn(message.target)];
      if (!topicArn) throw new Error(`no topic ARN for ${message.target}: grant the consumer publishing to it (ChannelCatalog's onward)`);
      const { PublishCommand } = await import('@aws-sdk/client-sns');
      const command = new PublishCommand({ TopicArn: topicArn, Message: message.body, MessageAttributes: textAttributes(message.attributes), ...fifo });
      await (await clients.sns()).send(command);
    }
  }
}

/** The runtime's own attributes, all text: as SQS and SNS take them. */
function textAttributes(attributes: Readonly<Record<string, WireAttribute>>): Record<string, { DataType: string; StringValue: string }> {
  return Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { DataType: value.DataType, StringValue: value.StringValue ?? '' }]));
}

/** The clients onward messages go through; the SNS client is made on first use, for a consumer that publishes. */
export function onwardClients(clients: ConsumerClients): OnwardClients {
  let sns: Promise<NonNullable<ConsumerClients['sns']>> | undefined;
  return {
    sqs: clients.sqs,
    sns: () => (sns ??= clients.sns ? Promise.resolve(clients.sns) : import('@aws-sdk/client-sns').then(({ SNSClient }) => new SNSClient({}))),
  };
}

function ownEntry<T>(entries: Readonly<Record<string, T>> | undefined, name: string): T | undefined {
  return entries && Object.hasOwn(entries, name) ? entries[name] : undefined;
}
