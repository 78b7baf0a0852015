import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient, type BatchResultErrorEntry } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient, type BatchGetCommandOutput } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import {
  catalogProblem,
  check,
  LifecycleKeys,
  MessageAttribute,
  messageBytes,
  OutputKey,
  SQS_MAX_MESSAGE_BYTES,
  topicCatalogProblem,
  type Catalog,
  type ChannelDefinition,
  type LifecycleRecord,
  type PayloadOf,
  type PolicyKind,
  type ReplyOf,
  type TopicCatalog,
} from '../policy/index.ts';
import { activeTraceAttributes } from '../policy/trace-context.ts';
import { discover, type AwsClientConfig, type Discovered, type DiscoveryOptions } from './discovery.ts';
import { channelFor, encodePayload } from './checks.ts';
import { ClientError, DeadLettered, InvalidArgument, ReplyQueueUnavailable, InvalidJson, MessageTooLarge, ReplyTimeout, SchemaViolation, StackNotDeployed, WrongPolicy } from './errors.ts';
import { NoticeWait, ReplyInbox } from './reply-inbox.ts';
import { requestWithFallback, type Answer, type RequestOptions } from './request.ts';
import { checkedKey, publishEvent, publishEvents, topicFor, type EventOf, type Publication, type PublishBatchOptions, type PublishBatchResult, type PublishOptions } from './topics.ts';

/**
 * The names of a catalog's channels whose policy is of one of the given kinds. A catalog typed only as
 * Catalog (names read at run time, as the CLI does) allows every name, and the client checks at run time.
 */
export type ChannelNameOf<Channels extends Catalog, Kind extends PolicyKind = PolicyKind> = {
  [Name in keyof Channels & string]: Channels[Name]['policy']['kind'] & Kind extends never ? never : Name;
}[keyof Channels & string];

export interface ClientOptions<Channels extends Catalog = Catalog, Topics extends TopicCatalog = TopicCatalog> extends DiscoveryOptions {
  /** The channels this client may use: the application's catalog, which types every call. */
  readonly channels: Channels;
  /** The topics this client may publish to, as the channels module exports them. @default - none */
  readonly topics?: Topics;
  /**
   * How awaitReply learns of a reply. 'polled': it reads the lifecycle record, at intervals doubling from 50 ms to 1 s.
   * 'pushed': every send to a channel that keeps replies names this client's reply queue, where the consumer sends a
   * notice at the commit, and awaitReply reads the record when the notice comes (and once a second, should a notice be
   * lost). Pushed needs the caller to be granted grantReadReplies, which covers its reply queue. @default 'polled'
   */
  readonly replies?: 'pushed' | 'polled';
}

/** Every call takes an AbortSignal, as the AWS SDK's commands do; an aborted call rejects with the signal's reason. */
export interface CallOptions {
  readonly abortSignal?: AbortSignal;
}

/** Shaped like an AWS SDK waiter's configuration: times in seconds. */
export interface AwaitReplyOptions<Name extends string = string> extends CallOptions {
  /** How long to wait in all, in seconds. @default 30 */
  readonly maxWaitTime?: number;
  /**
   * The first delay between reads of the lifecycle record, in seconds; it doubles up to maxDelay. A reply that is
   * pushed is read at its notice, and these reads only stand in for a notice lost. @default 0.05; maxDelay when pushed
   */
  readonly minDelay?: number;
  /** @default 1 */
  readonly maxDelay?: number;
  /** Only this channel's record (a correlation id may be used on several channels). */
  readonly channel?: Name;
}

export interface SendOptions extends CallOptions {
  /**
   * The key the consumer dedupes on: a message sent again under the same key is applied once, and `awaitReply`
   * gives the first one's reply. It is the message's correlation id, under the name that says what it is for:
   * give `idempotencyKey` or `correlationId`, not two different values. At most 128 printable ASCII characters
   * (what SQS takes as a FIFO deduplication id). @default - a new UUID per message
   */
  readonly idempotencyKey?: string;
  /** The same value as `idempotencyKey`. */
  readonly correlationId?: string;
  /** FIFO channels: the message group. @default - the correlation id (no ordering across messages) */
  readonly groupId?: string;
  /** Have the reply pushed to this client (see ClientOptions.replies). @default - as the client's replies option says */
  readonly pushReply?: boolean;
}

export interface BatchOptions<Payload> extends CallOptions {
  /** Each message's idempotency key (see SendOptions). @default - a new UUID per message */
  readonly idempotencyKeyOf?: (payload: Payload, index: number) => string;
  /** FIFO channels: the message group of the whole batch. @default - each message's own key */
  readonly groupId?: string;
  /** See SendOptions.pushReply. */
  readonly pushReply?: boolean;
}

/** One message of a batch that SQS did not take, with what the caller needs to send it again under the same key. */
export interface RejectedMessage {
  /** Its position in the payloads the caller passed. */
  readonly index: number;
  /** Send it again under this one (SendOptions.idempotencyKey), so that it is applied once if SQS took it after all. */
  readonly correlationId: string;
  /** SQS's error code for the entry, e.g. InvalidParameterValue. */
  readonly code: string;
  readonly message: string;
}

/**
 * What SQS did with each message of a batch, as SendMessageBatch reports it. The accepted are stored and will be
 * applied: send only the rejected again, each under its correlation id.
 */
export interface BatchResult<Name extends string = string> {
  /** In the payloads' order, each with its index among them. */
  readonly accepted: (Acknowledgement<Name> & { readonly index: number })[];
  readonly rejected: RejectedMessage[];
}

/** What SQS's acceptance of a message means for the caller: it is stored; its effect will come. */
export interface Acknowledgement<Name extends string = string> {
  readonly channel: Name;
  readonly messageId: string;
  readonly correlationId: string;
  /** Its reply will be pushed to the client that sent it, whose awaitReply then reads at the notice. */
  readonly replyPushed?: true;
}

/** Where a message is: 'queued' until a consumer first sees it, then its lifecycle record's status. */
export type MessageStatus =
  /** SQS accepted it (the caller holds its acknowledgement) and no consumer has seen it yet. */
  | { readonly status: 'queued'; readonly correlationId: string; readonly channel: string }
  /** No consumer has seen this id: still queued, never sent, or its record has expired. Nothing tells these apart. */
  | { readonly status: 'unknown'; readonly correlationId: string }
  /** A fire-and-forget channel keeps no record of its messages, by design. */
  | { readonly status: 'not-tracked'; readonly correlationId: string; readonly channel: string }
  | LifecycleRecord;

export interface StatusOptions extends CallOptions {
  /** Only this channel's record; a fire-and-forget channel answers 'not-tracked' without a read. */
  readonly channel?: string;
}

/**
 * The sender SDK: one client for every policy. It validates against the channel's schema before anything
 * leaves the process, sets correlation ids, picks the mechanism from the policy (SQS for queue channels, a
 * synchronous Lambda invoke with failover for request-response) and reads lifecycle records for status and replies.
 */
export class MessagingClient<Channels extends Catalog = Catalog, Topics extends TopicCatalog = TopicCatalog> {
  public readonly discovered: Discovered;
  public readonly channels: Channels;
  public readonly topics: Topics;
  public readonly sqs: SQSClient;
  public readonly sns: SNSClient;
  public readonly dynamo: DynamoDBDocumentClient;
  public readonly lambda: LambdaClient;
  /** For the metrics SQS publishes only there; absent on the local cloud, which has no CloudWatch. */
  public readonly cloudWatch?: CloudWatchClient;
  public readonly replies: 'pushed' | 'polled';
  #replyInbox: ReplyInbox | undefined;

  public constructor(discovered: Discovered, channels: Channels, clientConfig: AwsClientConfig = {}, topics: Topics = {} as Topics, replies: 'pushed' | 'polled' = 'polled') {
    // A client that sends and publishes needs each topic it names, not every topic its channels subscribe to.
    const problem = catalogProblem(channels) ?? topicCatalogProblem(topics, {});
    if (problem) throw new InvalidArgument(`channels: ${problem}`);
    this.discovered = discovered;
    this.channels = channels;
    this.topics = topics;
    this.replies = replies;
    const common = { ...clientConfig, region: discovered.region, ...(discovered.credentials ? { credentials: discovered.credentials } : {}) };
    this.sqs = new SQSClient({ ...common, endpoint: discovered.endpoints.sqs });
    this.sns = new SNSClient({ ...common, endpoint: discovered.endpoints.sns });
    this.dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ ...common, endpoint: discovered.endpoints.dynamodb }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    // One attempt: the deadline logic decides what happens after a failure, not the SDK's retry policy.
    this.lambda = new LambdaClient({ ...common, endpoint: discovered.endpoints.lambda, maxAttempts: 1 });
    if (discovered.target !== 'local') this.cloudWatch = new CloudWatchClient({ ...common, endpoint: discovered.endpoints.cloudwatch });
  }

  /** The output value for a key, or a clear error naming what the stack lacks. */
  public output(key: string): string {
    const value = this.discovered.outputs[key];
    if (!value) throw new StackNotDeployed(`the deployed stack has no output ${key}; is it the same version as this client?`);
    return value;
  }

  /** Sends to a guaranteed or fire-and-forget channel; resolves once SQS has accepted the message. */
  public async send<Name extends ChannelNameOf<Channels, 'guaranteed' | 'fire-and-forget'>>(
    channelName: Name,
    payload: PayloadOf<Channels[Name]>,
    options: SendOptions = {},
  ): Promise<Acknowledgement<Name>> {
    const key = idempotencyKey(options);
    const entries = this.#entries(channelName, [payload], { ...options, idempotencyKeyOf: key ? () => key : undefined });
    const pushed = await this.#pushReplies(channelName, entries, options.pushReply);
    const { correlationId, Id: _id, ...message } = entries[0]!;
    const { MessageId } = await this.sqs.send(new SendMessageCommand({ QueueUrl: this.output(OutputKey.queueUrl(channelName)), ...message }), {
      abortSignal: options.abortSignal,
    });
    return { channel: channelName, messageId: MessageId!, correlationId, ...(pushed ? { replyPushed: true as const } : {}) };
  }

  /**
   * Names this client's reply queue on entries already checked, when their replies are to be pushed: the queue is made
   * on the first call, so a payload its schema refuses makes none. None on a channel that keeps no replies, unless
   * asked for by name, which is a mistake. Answers whether it named it.
   */
  async #pushReplies(channelName: string, entries: readonly { readonly MessageAttributes: Record<string, { DataType: string; StringValue?: string }> }[], pushReply: boolean | undefined): Promise<boolean> {
    if (pushReply === true) replyChannel(this.channels, channelName);
    if (!(pushReply ?? this.replies === 'pushed') || !keepsReplies(channelFor(this.channels, channelName))) return false;
    let name: string;
    try {
      name = await this.#inbox(channelName).name();
    } catch (error) {
      if (error instanceof ClientError) throw error;
      throw new ReplyQueueUnavailable(`could not create this client's reply queue for pushed replies (is the caller granted grantReadReplies?): ${(error as Error).message}`, { cause: error });
    }
    for (const entry of entries) entry.MessageAttributes[MessageAttribute.replyTo] = { DataType: 'String', StringValue: name };
    return true;
  }

  /** This client's reply queue, made on first use beside the stack's queues. */
  #inbox(channelName: string): ReplyInbox {
    this.#replyInbox ??= new ReplyInbox(this.sqs, this.output(OutputKey.replyQueuePrefix), this.output(OutputKey.queueUrl(channelName)));
    return this.#replyInbox;
  }

  /**
   * Sends up to 10 messages in one SendMessageBatch; each gets its own idempotency key. Entries SQS fails on its own
   * side (SenderFault false) are sent once more, under the same keys, before they are reported rejected.
   *
   * @returns the accepted messages' acknowledgements and the rejected ones, with SQS's reasons and the correlation
   *   ids to resend them under, so that a message SQS did take after all is applied once
   */
  public async sendBatch<Name extends ChannelNameOf<Channels, 'guaranteed' | 'fire-and-forget'>>(
    channelName: Name,
    payloads: readonly PayloadOf<Channels[Name]>[],
    options: BatchOptions<PayloadOf<Channels[Name]>> = {},
  ): Promise<BatchResult<Name>> {
    if (payloads.length < 1 || payloads.length > 10) throw new InvalidArgument('a batch holds 1 to 10 messages');
    const entries = this.#entries(channelName, payloads, options);
    const pushed = await this.#pushReplies(channelName, entries, options.pushReply);
    // SQS refuses a whole batch past 1 MiB together (BatchRequestTooLong) though each message fits: said here, by name.
    const batchBytes = entries.reduce((total, entry) => total + messageBytes(entry.MessageBody, entry.MessageAttributes), 0);
    if (batchBytes > SQS_MAX_MESSAGE_BYTES) {
      throw new MessageTooLarge(`${channelName}: the batch is ${batchBytes} bytes, over SQS's limit for a batch's messages together (${SQS_MAX_MESSAGE_BYTES}); send fewer at once`);
    }
    const queueUrl = this.output(OutputKey.queueUrl(channelName));
    const sendEntries = async (batch: typeof entries) => {
      const { Successful = [], Failed = [] } = await this.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map(({ correlationId: _c, ...entry }) => entry) }),
        { abortSignal: options.abortSignal },
      );
      return { successful: Successful, failed: Failed };
    };
    const first = await sendEntries(entries);
    // A failure on SQS's side may pass; the same correlation ids (and FIFO deduplication ids) keep a retry of a
    // message SQS did store after all from being applied twice. The sender's own faults would fail the same way again.
    // On FIFO, not an entry behind which SQS accepted a later one of its group: sent now, it would arrive out of order.
    const byIndex = (a: { Id?: string }, b: { Id?: string }) => Number(a.Id) - Number(b.Id);
    const overtaken = (failure: BatchResultErrorEntry) => {
      const { MessageGroupId: group } = entries[Number(failure.Id)]!;
      return group !== undefined && first.successful.some((success) => Number(success.Id) > Number(failure.Id) && entries[Number(success.Id)]!.MessageGroupId === group);
    };
    const serverSide = first.failed.filter((failure) => !failure.SenderFault).sort(byIndex);
    const retriable = serverSide.filter((failure) => !overtaken(failure));
    const retried = retriable.length > 0 ? await sendEntries(retriable.map((failure) => entries[Number(failure.Id)]!)) : { successful: [], failed: [] };
    const notRetried = serverSide
      .filter(overtaken)
      .map((failure) => ({ ...failure, Message: `${failure.Message ?? ''} (not sent again: a later message of its FIFO group was accepted, and would come first)`.trim() }));
    const accepted = [...first.successful, ...retried.successful].sort(byIndex).map((success) => ({
      channel: channelName,
      messageId: success.MessageId!,
      correlationId: entries[Number(success.Id)]!.correlationId,
      index: Number(success.Id),
      ...(pushed ? { replyPushed: true as const } : {}),
    }));
    const rejected = [...first.failed.filter((failure) => failure.SenderFault), ...notRetried, ...retried.failed].sort(byIndex).map((failure) => ({
      index: Number(failure.Id),
      correlationId: entries[Number(failure.Id)]!.correlationId,
      code: failure.Code ?? 'Unknown',
      message: failure.Message ?? '',
    }));
    return { accepted, rejected };
  }

  /**
   * Publishes an event to a topic; resolves once SNS has accepted it. Each channel subscribed to the topic (and whose
   * filter it passes) gets it under its own policy, deduped on the event's key.
   */
  public async publish<Name extends keyof Topics & string>(topicName: Name, event: EventOf<Topics[Name]>, options: PublishOptions = {}): Promise<Publication<Name>> {
    const topic = topicFor(this.topics, topicName);
    return (await publishEvent(this.sns, this.output(OutputKey.topicArn(topicName)), topic, event, options)) as Publication<Name>;
  }

  /** Publishes up to 10 events in one PublishBatch; each gets its own key. Publish the rejected again under their keys. */
  public async publishBatch<Name extends keyof Topics & string>(
    topicName: Name,
    events: readonly EventOf<Topics[Name]>[],
    options: PublishBatchOptions<EventOf<Topics[Name]>> = {},
  ): Promise<PublishBatchResult<Name>> {
    const topic = topicFor(this.topics, topicName);
    return (await publishEvents(this.sns, this.output(OutputKey.topicArn(topicName)), topic, events, options as PublishBatchOptions<never>)) as PublishBatchResult<Name>;
  }

  /** The SQS entries for payloads: checked against the schema, each with its key, timestamps and FIFO ids. */
  #entries(channelName: string, payloads: readonly unknown[], options: BatchOptions<never>) {
    const channel = channelFor(this.channels, channelName, 'send');
    const fifo = channel.policy.kind === 'guaranteed' && channel.policy.fifo;
    const now = Date.now();
    const traced = activeTraceAttributes();
    return payloads.map((payload, index) => {
      const correlationId = checkedKey(options.idempotencyKeyOf?.(payload as never, index)) ?? randomUUID();
      const attributes: Record<string, { DataType: string; StringValue?: string }> = {
        [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId },
        [MessageAttribute.sentAt]: { DataType: 'Number', StringValue: String(now) },
        ...traced,
      };
      if (channel.policy.kind === 'fire-and-forget') {
        attributes[MessageAttribute.expiresAt] = { DataType: 'Number', StringValue: String(now + channel.policy.timeToLiveSeconds * 1000) };
      }
      return {
        Id: String(index),
        MessageBody: encodePayload(channel, payload),
        MessageAttributes: attributes,
        ...(fifo ? { MessageGroupId: options.groupId ?? correlationId, MessageDeduplicationId: correlationId } : {}),
        correlationId,
      };
    });
  }

  /** Asks a request-response channel and waits for its answer within the deadline (see requestWithFallback). */
  public async request<Name extends ChannelNameOf<Channels, 'request-response'>>(
    channelName: Name,
    payload: PayloadOf<Channels[Name]>,
    options: RequestOptions = {},
  ): Promise<Answer<ReplyOf<Channels[Name]>>> {
    const channel = channelFor(this.channels, channelName, 'request');
    const deadlineMs = options.deadlineMs ?? channel.policy.deadlineMs;
    const hedgeAfterFraction = options.hedgeAfterFraction ?? channel.policy.hedgeAfterFraction;
    // A responder runs at most its timeout, sized from the policy's deadline: a longer deadline waits for an answer
    // that can no longer come (and past 2^31 - 1 ms, a timer fires at once).
    const longest = channel.policy.timeoutSeconds * 1000;
    if (!(deadlineMs > 0 && deadlineMs <= longest)) {
      throw new InvalidArgument(`${channelName}: the deadline must be a positive number of milliseconds up to its responders' timeout (${longest}), not ${deadlineMs}`);
    }
    if (hedgeAfterFraction !== undefined && !(hedgeAfterFraction > 0 && hedgeAfterFraction < 1)) {
      throw new InvalidArgument(`the hedge fraction must be between 0 and 1, not ${hedgeAfterFraction}`);
    }
    const failoverAfterFraction = options.failoverAfterFraction ?? 0.6;
    if (!(failoverAfterFraction > 0 && failoverAfterFraction <= 1)) throw new InvalidArgument(`the failover fraction must be above 0 and at most 1, not ${failoverAfterFraction}`);
    return requestWithFallback<ReplyOf<Channels[Name]>>(this.lambda, {
      channel: channelName,
      body: encodePayload(channel, payload),
      primary: this.output(OutputKey.primaryFunctionName(channelName)),
      fallback: channel.policy.fallback ? this.output(OutputKey.fallbackFunctionName(channelName)) : undefined,
      deadlineMs,
      hedgeAfterFraction,
      failoverAfterFraction,
      replySchema: channel.replySchema,
      abortSignal: options.abortSignal,
    });
  }

  /**
   * Where a message is: its lifecycle records (one per guaranteed channel that saw its correlation id). Without one,
   * given its acknowledgement it is 'queued' (SQS has it); given only an id, 'unknown'. On a fire-and-forget or
   * request-response channel, 'not-tracked'. A record past its time to live counts as none: DynamoDB deletes expired
   * items within days, not at once.
   */
  public async status(target: string | Acknowledgement, options: StatusOptions = {}): Promise<MessageStatus[]> {
    const { correlationId, channel = options.channel } = typeof target === 'string' ? { correlationId: target } : target;
    if (channel !== undefined && channelFor(this.channels, channel).policy.kind !== 'guaranteed') {
      return [{ status: 'not-tracked', correlationId, channel }];
    }
    const channels = channel !== undefined ? [channel] : Object.values(this.channels).filter((candidate) => candidate.policy.kind === 'guaranteed').map((candidate) => candidate.name);
    const records = await this.#records(correlationId, channels, options.abortSignal);
    if (records.length > 0) return records;
    return [typeof target === 'object' ? { status: 'queued', correlationId, channel: target.channel } : { status: 'unknown', correlationId }];
  }

  /** The live lifecycle records of a correlation id on the given channels: one BatchGetItem per 100 of them. */
  async #records(correlationId: string, channels: readonly string[], abortSignal: AbortSignal | undefined): Promise<LifecycleRecord[]> {
    const table = this.output(OutputKey.lifecycleTableName);
    const found: Record<string, unknown>[] = [];
    for (let index = 0; index < channels.length; index += 100) {
      let keys: Record<string, unknown>[] | undefined = channels.slice(index, index + 100).map((name) => ({ [LifecycleKeys.partitionKey]: LifecycleKeys.of(name, correlationId) }));
      // Keys DynamoDB left unprocessed (a throttle) are asked for again.
      while (keys && keys.length > 0) {
        const answer: BatchGetCommandOutput = await this.dynamo.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }), { abortSignal });
        found.push(...(answer.Responses?.[table] ?? []));
        keys = answer.UnprocessedKeys?.[table]?.Keys;
      }
    }
    const now = Date.now() / 1000;
    return found
      .filter((item) => !(typeof item[LifecycleKeys.timeToLive] === 'number' && (item[LifecycleKeys.timeToLive] as number) < now))
      .map(({ [LifecycleKeys.partitionKey]: _key, [LifecycleKeys.timeToLive]: _ttl, leaseToken: _token, ...record }) => record as unknown as LifecycleRecord)
      .sort((a, b) => channels.indexOf(a.channel) - channels.indexOf(b.channel));
  }

  /**
   * Waits for a guaranteed message's reply, like an AWS SDK waiter: it reads the lifecycle record with a delay
   * doubling from minDelay to maxDelay, for at most maxWaitTime seconds, and at once at each notice when the reply is
   * pushed (the acknowledgement says so, or the client's replies option). Resolves with the reply once applied;
   * throws DeadLettered with the reason, or ReplyTimeout when the time is up. Given the acknowledgement (or the
   * channel), the reply has the channel's reply type; given only an id, it is looked for on every channel that keeps
   * replies, and two channels that both have it are a mistake to resolve by naming one.
   */
  public awaitReply<Name extends ChannelNameOf<Channels, 'guaranteed'>>(acknowledgement: Acknowledgement<Name>, options?: Omit<AwaitReplyOptions, 'channel'>): Promise<ReplyOf<Channels[Name]>>;
  public awaitReply<Name extends ChannelNameOf<Channels, 'guaranteed'>>(correlationId: string, options: AwaitReplyOptions<Name> & { channel: Name }): Promise<ReplyOf<Channels[Name]>>;
  public awaitReply(correlationId: string, options?: Omit<AwaitReplyOptions, 'channel'>): Promise<unknown>;
  public async awaitReply(target: string | Acknowledgement, options: AwaitReplyOptions = {}): Promise<unknown> {
    const { correlationId, channel = options.channel } = typeof target === 'string' ? { correlationId: target } : target;
    const channels = channel !== undefined ? [replyChannel(this.channels, channel).name] : Object.values(this.channels).filter(keepsReplies).map((candidate) => candidate.name);
    if (channels.length === 0) throw new WrongPolicy('no channel of this catalog keeps replies (a guaranteed channel with reply: true)');
    // An acknowledgement says how its reply comes; an id alone is taken to come as this client's sends do.
    const pushed = typeof target === 'object' ? target.replyPushed === true : this.replies === 'pushed';
    const { maxWaitTime = 30, maxDelay = 1, abortSignal } = options;
    const minDelay = options.minDelay ?? (pushed ? maxDelay : 0.05);
    if (!(maxWaitTime > 0) || !(minDelay > 0) || !(maxDelay >= minDelay) || maxWaitTime * 1000 > MAX_TIMER_MS) {
      throw new InvalidArgument(`awaitReply needs 0 < maxWaitTime <= ${MAX_TIMER_MS / 1000} and 0 < minDelay <= maxDelay (seconds), not ${maxWaitTime}, ${minDelay}, ${maxDelay}`);
    }
    const giveUpAt = Date.now() + maxWaitTime * 1000;
    let delay = minDelay * 1000;
    const notices = new NoticeWait();
    // Watched before the first read, so that a notice of a commit after that read wakes the wait.
    const unwatch = pushed ? this.#inbox(channels[0]!).watch(correlationId, notices) : undefined;
    try {
      for (;;) {
        const records = await this.#records(correlationId, channels, abortSignal);
        if (records.length > 1) {
          throw new InvalidArgument(`${correlationId} names messages on ${records.map((record) => record.channel).join(' and ')}: give the channel`);
        }
        const [record] = records;
        if (record?.status === 'succeeded') return this.#replyOf(record);
        if (record?.status === 'dead-lettered') throw new DeadLettered(`${correlationId} was dead-lettered: ${record.reason ?? 'no reason recorded'}`);
        const remaining = giveUpAt - Date.now();
        if (remaining <= 0) throw new ReplyTimeout(`no reply for ${correlationId} within ${maxWaitTime} s (status: ${record?.status ?? 'unknown'})`);
        await notices.wait(Math.min(delay, remaining), abortSignal);
        delay = Math.min(delay * 2, maxDelay * 1000);
      }
    } finally {
      unwatch?.();
    }
  }

  /**
   * A stored reply as the caller gets it: the reply schema's output. The consumer keeps the schema's input, so that a
   * transform runs once, here, as for every message on its way in.
   */
  #replyOf(record: LifecycleRecord): unknown {
    const schema = Object.hasOwn(this.channels, record.channel) ? this.channels[record.channel]!.replySchema : undefined;
    if (!schema) return record.reply;
    const reply = check(schema, record.reply);
    if (!reply.success) throw new SchemaViolation(`${record.channel}: the reply to ${record.correlationId} breaks the reply schema: ${reply.issues}`);
    return reply.data;
  }

  /**
   * Closes the clients. A reply queue this client made is deleted first, so its SQS client closes once that is done;
   * await close() to know it is.
   */
  public destroy(): void {
    // Nothing to report to: a queue left behind is swept by the stack's next reply queue (see ReplyInbox).
    this.close().catch(() => undefined);
  }

  /** destroy(), resolving once this client's reply queue (if it made one) is deleted. */
  public async close(): Promise<void> {
    try {
      await this.#replyInbox?.close();
    } finally {
      this.sqs.destroy();
      this.sns.destroy();
      this.dynamo.destroy();
      this.lambda.destroy();
      this.cloudWatch?.destroy();
    }
  }
}

/** A client for the given catalog, typed by it: channel names, payloads and replies are checked at compile time. */
export async function createClient<Channels extends Catalog, Topics extends TopicCatalog = Record<never, never>>(options: ClientOptions<Channels, Topics>): Promise<MessagingClient<Channels, Topics>> {
  return new MessagingClient(await discover(options), options.channels, options.clientConfig, options.topics ?? ({} as Topics), options.replies);
}

/** Parses user-supplied JSON text with an error that says what is wrong, not where in the parser. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidJson(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The one key a send names, from either of its two names. */
function idempotencyKey(options: SendOptions): string | undefined {
  const { idempotencyKey: key, correlationId } = options;
  if (key !== undefined && correlationId !== undefined && key !== correlationId) {
    throw new InvalidArgument('idempotencyKey and correlationId name one value; give one of them');
  }
  return key ?? correlationId;
}

/** The longest setTimeout waits: a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function keepsReplies(channel: ChannelDefinition): boolean {
  return channel.policy.kind === 'guaranteed' && channel.policy.reply;
}

/** The named channel, which must keep replies: awaiting one from a channel that keeps none would wait for nothing. */
function replyChannel(channels: Catalog, name: string): ChannelDefinition {
  const channel = channelFor(channels, name, 'reply');
  if (!keepsReplies(channel)) throw new WrongPolicy(`${name} keeps no replies (its policy has no reply: true); use status to see what became of a message`);
  return channel;
}
