/**
 * The wire contract shared by the constructs (which set it up), the consumer runtime (which reads it) and the
 * SDK (which writes it). Plain constants: changing one here changes every side at once.
 */
import { createHash } from 'node:crypto';

/** SQS's limit for one message, body and attributes together (1 MiB since 2025): every DLQ takes it. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/**
 * What the SDK's and the runtime's own attributes take at most, names and types counted as SQS counts them: on an
 * onward message to a fire-and-forget channel, a correlation id (59 bytes), sentAt (25), expiresAt (28), a flow and a
 * cause of up to 128 characters each (140 and 145) and a traceparent (72), 469 bytes; a send of the SDK's, 272 (337 on
 * a guaranteed channel with a replyTo of 80 characters). A queue's size limit is its channel's maxMessageBytes plus
 * this, and a topic takes events this much smaller than SNS's limit, so a body within maxMessageBytes always fits with
 * its attributes (test/unit/wire-form.test.ts builds the longest).
 */
export const SDK_ATTRIBUTE_BYTES = 512;

/**
 * The longest dead-letter reason a DLQ copy carries as an attribute (the lifecycle record keeps it whole). With the
 * attempt count and the names, the runtime adds at most DEAD_LETTER_ATTRIBUTE_BYTES to a message it dead-letters.
 */
export const DEAD_LETTER_REASON_MAX_CHARS = 1000;
export const DEAD_LETTER_ATTRIBUTE_BYTES = 4 * DEAD_LETTER_REASON_MAX_CHARS + 100;

/**
 * Room a guaranteed queue's size limit leaves below its DLQ's, for what the runtime adds to a copy there: the reason
 * and attempt count, a correlation id for a message sent without one, and the fold of a sender's attributes beyond
 * SQS's ten into one. So a copy of any message the queue takes fits its DLQ.
 */
export const DEAD_LETTER_COPY_RESERVE_BYTES = 16_384;

/** SQS message attributes the SDK and runtime exchange. */
export const MessageAttribute = {
  /** String. Set by the SDK; the dedupe key. Absent on messages sent behind the SDK's back: the SQS message id stands in. */
  correlationId: 'correlationId',
  /** Number, epoch milliseconds. Fire-and-forget: the runtime drops the message after it. */
  expiresAt: 'expiresAt',
  /** Number, epoch milliseconds, when the SDK sent the message (for send→applied latency). */
  sentAt: 'sentAt',
  /**
   * String. The correlation id of the message that began the flow: set by the runtime on every onward message, so that
   * a flow's messages can be found from its first one. Absent on a flow's first message, whose own id it is.
   */
  flowId: 'flowId',
  /** String. The correlation id of the message whose handler sent this one on. */
  causationId: 'causationId',
  /**
   * String. The W3C trace context of the span that sent the message (see trace-context.ts): set by the SDK and the
   * runtime when there is one, so that a trace crosses the queue.
   */
  traceparent: 'traceparent',
  /**
   * String. The name of the caller's reply queue (see ReplyQueue below), set by the SDK when replies are pushed: once the
   * message's reply is committed, the consumer sends that queue a ReplyNotice. Never carried onward.
   */
  replyTo: 'replyTo',
  /** String. Set by the runtime on a message it dead-letters. */
  deadLetterReason: 'deadLetterReason',
  /** Number. How many receives the message had when the runtime dead-lettered it. */
  deadLetterAttempts: 'deadLetterAttempts',
  /**
   * String, JSON. On a DLQ copy whose sender's attributes and the runtime's would be more than SQS's ten: the sender's,
   * folded into one (see foldAttributes). The runtime and the redrive unfold them, so a handler sees them as sent.
   */
  foldedAttributes: 'deadLetterFoldedAttributes',
} as const;

/** The attributes only the runtime sets on a DLQ copy: none of them is the sender's, and a redrive drops them. */
export const DEAD_LETTER_ATTRIBUTES: readonly string[] = [MessageAttribute.deadLetterReason, MessageAttribute.deadLetterAttempts, MessageAttribute.foldedAttributes];

/** SQS takes at most ten attributes on a message. */
export const SQS_MAX_ATTRIBUTES = 10;

/** A message attribute as SQS's API has it, binary values in base64: the form folded attributes take in JSON. */
export interface WireAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** What an attribute counts toward SQS's size limits: its name, its data type and its value. */
export function attributeBytes(name: string, value: WireAttribute): number {
  const binary = value.BinaryValue === undefined ? 0 : Buffer.from(value.BinaryValue, 'base64').length;
  return Buffer.byteLength(name) + Buffer.byteLength(value.DataType) + Buffer.byteLength(value.StringValue ?? '') + binary;
}

/** What a message counts toward SQS's size limits: its body and every attribute. */
export function messageBytes(body: string, attributes: Readonly<Record<string, WireAttribute>>): number {
  return Object.entries(attributes).reduce((total, [name, value]) => total + attributeBytes(name, value), Buffer.byteLength(body, 'utf8'));
}

/** The sender's attributes folded into one attribute's value. */
export function foldAttributes(attributes: Readonly<Record<string, WireAttribute>>): string {
  return JSON.stringify(attributes);
}

/** The attributes folded into a DLQ copy's one attribute, or none if its value is not what foldAttributes wrote. */
export function unfoldAttributes(folded: string | undefined): Record<string, WireAttribute> {
  if (folded === undefined) return {};
  try {
    const parsed = JSON.parse(folded) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, WireAttribute>) : {};
  } catch {
    return {};
  }
}

/**
 * Why the SDK asks a fallback responder, in the invocation's client context (custom[key]): after the primary failed or
 * was abandoned, or alongside a primary that is only slow. The fallback counts its answers by it.
 */
export const AskedAs = { key: 'deliveryPoliciesAskedAs', failover: 'failover', hedge: 'hedge' } as const;

/** Environment variables the constructs give every consumer and responder. */
export const FunctionEnv = {
  channelName: 'CHANNEL_NAME',
  /** The resolved policy as JSON. */
  channelPolicy: 'CHANNEL_POLICY',
  /** The application's data, which handlers write. */
  stateTableName: 'STATE_TABLE_NAME',
  /** The guaranteed consumers' lifecycle records. */
  lifecycleTableName: 'LIFECYCLE_TABLE_NAME',
  queueUrl: 'QUEUE_URL',
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  /** A channel that keeps replies: the name prefix of the callers' reply queues, the only ones its consumer notifies. */
  replyQueuePrefix: 'REPLY_QUEUE_PREFIX',
  /** The CloudWatch namespace of the runtime's metrics. @default DEFAULT_METRICS_NAMESPACE */
  metricsNamespace: 'METRICS_NAMESPACE',
} as const;

/** Where the runtime publishes its metrics, and the alarms read them. */
export const DEFAULT_METRICS_NAMESPACE = 'DeliveryPolicies';

/**
 * What granting a function access to a channel sets in its environment: each stack output it needs, under
 * `MSG_OUTPUT_<output key>`, so that a sender in AWS finds its endpoints without a DescribeStacks per cold start.
 */
const SENDER_ENV_PREFIX = 'MSG_OUTPUT_';
export const SenderEnv = {
  prefix: SENDER_ENV_PREFIX,
  output: (outputKey: string) => `${SENDER_ENV_PREFIX}${outputKey}`,
} as const;

/** The state table's single-table key layout: the application's data, which handlers write. */
export const StateKeys = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB's TTL deletes the item after it. */
  timeToLive: 'expiresAt',
} as const;

/**
 * The lifecycle table's key: one record per message and channel, under its channel's prefix, which is what a
 * consumer's role is granted (channel names hold no '#', so one channel's prefix never covers another's).
 */
export const LifecycleKeys = {
  partitionKey: 'pk',
  /** Epoch seconds; DynamoDB's TTL deletes the record after it. */
  timeToLive: 'expiresAt',
  of: (channel: string, correlationId: string) => `${channel}#${correlationId}`,
  prefix: (channel: string) => `${channel}#`,
} as const;

/** How long lifecycle records are kept: long enough to outlive any redrive of a 14-day DLQ. */
export const LIFECYCLE_RETENTION_SECONDS = 30 * 24 * 3600;

export type LifecycleStatus = 'in-progress' | 'retrying' | 'succeeded' | 'dead-lettered';

/** A message a handler sends on, as the lifecycle record keeps it until it is sent (the outbox). */
export interface OnwardMessage {
  /** A channel's queue, or a topic. */
  readonly kind: 'channel' | 'topic';
  readonly target: string;
  /** Derived from the cause's correlation id and the message's place among its onward messages: the same on every resend. */
  readonly correlationId: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, WireAttribute>>;
  /** FIFO targets: the message group. */
  readonly groupId?: string;
}

/** What the lifecycle record says about one message on one channel. It is also the message's dedupe record. */
export interface LifecycleRecord {
  readonly correlationId: string;
  readonly channel: string;
  readonly messageId: string;
  readonly status: LifecycleStatus;
  /** Attempts that ran the handler or reached the dead-letter decision, over the message's whole life. */
  readonly attempts: number;
  /** `attempts` when the runtime last dead-lettered the message: a redrive starts a fresh budget from there. */
  readonly attemptsBeforeRedrive?: number;
  /** When SQS first accepted the message (its SentTimestamp), epoch milliseconds. */
  readonly sentAt?: number;
  /** Epoch milliseconds. */
  readonly firstReceivedAt: number;
  readonly updatedAt: number;
  readonly completedAt?: number;
  /** Why the last attempt failed, or why the message was dead-lettered. */
  readonly reason?: string;
  /** The handler's result, for channels with replies. */
  readonly reply?: unknown;
  /** Epoch milliseconds until which an 'outside' effect's claim holds. */
  readonly leaseUntil?: number;
  /**
   * An 'outside' effect was applied and its result could not be kept (a reply breaking its schema, writes DynamoDB
   * refuses): the message is dead-lettered, and no delivery, a redrive's included, runs its handler again.
   */
  readonly effectApplied?: boolean;
  /** The correlation id of the flow's first message (this one's own, for a message that began a flow). */
  readonly flowId?: string;
  /** The correlation id of the message whose handler sent this one on. */
  readonly causationId?: string;
  /** The messages the handler sent on, each by target and correlation id: read each one's status in turn. */
  readonly onward?: readonly { readonly kind: 'channel' | 'topic'; readonly target: string; readonly correlationId: string }[];
  /** Onward messages committed with the effect and not yet known to be sent; the next delivery sends them. */
  readonly outbox?: readonly OnwardMessage[];
  readonly history: readonly LifecycleEvent[];
}

export interface LifecycleEvent {
  readonly at: number;
  /** The record's status from then, or 'sent-on' when its onward messages had all been sent. */
  readonly status: LifecycleStatus | 'sent-on';
  readonly attempt: number;
  readonly reason?: string;
}

/** CloudFormation output keys per channel; the local cloud writes the same keys. */
export const OutputKey = {
  queueUrl: (channel: string) => `${channel}QueueUrl`,
  deadLetterQueueUrl: (channel: string) => `${channel}DeadLetterQueueUrl`,
  consumerFunctionName: (channel: string) => `${channel}ConsumerFunctionName`,
  primaryFunctionName: (channel: string) => `${channel}PrimaryFunctionName`,
  fallbackFunctionName: (channel: string) => `${channel}FallbackFunctionName`,
  topicArn: (topic: string) => `${topic}TopicArn`,
  undeliveredQueueUrl: (topic: string) => `${topic}UndeliveredQueueUrl`,
  stateTableName: 'StateTableName',
  lifecycleTableName: 'LifecycleTableName',
  replyQueuePrefix: 'ReplyQueuePrefix',
} as const;

/** Between a stack's name and a reply queue's random part: no stack's name has a '_' (see ReplyQueue.prefix). */
const REPLY_SEPARATOR = '_reply_';

/**
 * Pushed replies: each waiting client has a queue of its own, named by the stack's prefix and a random suffix, where a
 * consumer sends a ReplyNotice once a message's reply is committed. A notice only wakes the caller, which then reads the
 * lifecycle record, the one truth of a reply: a notice that is lost, late or sent by someone else changes nothing.
 */
export const ReplyQueue = {
  /** SQS's limit for a queue's name. */
  maxNameLength: 80,
  /** The random part of a name: a UUID's 32 hex digits. */
  suffixLength: 32,
  /**
   * The stack's prefix: its name, shortened (with a hash of the whole, so two long names do not meet) to leave room for
   * the suffix within SQS's 80 characters, then `_reply_`. A stack's name has no `_`, so no queue CloudFormation names
   * for another stack (`<its name>-<logical id>-<random>`) falls under a grant on the prefix.
   */
  prefix(stackName: string): string {
    const room = ReplyQueue.maxNameLength - ReplyQueue.suffixLength - REPLY_SEPARATOR.length;
    const name = stackName.length <= room ? stackName : `${stackName.slice(0, room - 9)}-${createHash('sha256').update(stackName).digest('hex').slice(0, 8)}`;
    return `${name}${REPLY_SEPARATOR}`;
  },
  /** Whether a replyTo names one of the stack's reply queues: the only queues a consumer sends a notice to. */
  isNamed(name: string, prefix: string): boolean {
    return name.startsWith(prefix) && /^[0-9a-f]{32}$/.test(name.slice(prefix.length));
  },
  /**
   * A reply queue's URL from a queue URL of the same account and region: built, not taken from the message, so that a
   * notice can only go to SQS, where the sender's URL could name any host.
   */
  url(sameAccountQueueUrl: string, name: string): string {
    return `${sameAccountQueueUrl.slice(0, sameAccountQueueUrl.lastIndexOf('/') + 1)}${name}`;
  },
} as const;

/** What a consumer sends a reply queue: which message's reply to read. */
export interface ReplyNotice {
  readonly channel: string;
  readonly correlationId: string;
}
