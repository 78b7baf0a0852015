import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { MessageAttribute, OutputKey, StateKeys, type Catalog, type ChannelDefinition, type LifecycleRecord, type PayloadOf, type PolicyKind, type ReplyOf } from '../policy/index.ts';
import { discover, type Discovered, type DiscoveryOptions } from './discovery.ts';
import { channelFor, encodePayload } from './checks.ts';
import { BatchPartlyRefused, DeadLettered, InvalidArgument, InvalidJson, ReplyTimeout, StackNotDeployed } from './errors.ts';
import { requestWithFallback, type Answer, type RequestOptions } from './request.ts';

/**
 * The names of a catalog's channels whose policy is of one of the given kinds. A catalog typed only as
 * Catalog (names read at run time, as the CLI does) allows every name, and the client checks at run time.
 */
export type ChannelNameOf<Channels extends Catalog, Kind extends PolicyKind = PolicyKind> = {
  [Name in keyof Channels & string]: Channels[Name]['policy']['kind'] & Kind extends never ? never : Name;
}[keyof Channels & string];

export interface ClientOptions<Channels extends Catalog = Catalog> extends DiscoveryOptions {
  /** The channels this client may use: the application's catalog, which types every call. */
  readonly channels: Channels;
}

export interface AwaitReplyOptions<Name extends string = string> {
  /** @default 30000 */
  readonly timeoutMs?: number;
  /** Only this channel's record (a correlation id may be used on several channels). */
  readonly channel?: Name;
}

export interface SendOptions {
  /** @default - a new UUID */
  readonly correlationId?: string;
  /** FIFO channels: the message group. @default - the correlation id (no ordering across messages) */
  readonly groupId?: string;
}

/** What SQS's acceptance of a message means for the caller: it is stored; its effect will come. */
export interface Acknowledgement<Name extends string = string> {
  readonly channel: Name;
  readonly messageId: string;
  readonly correlationId: string;
}

/** Where a message is: 'queued' until a consumer first sees it, then its lifecycle record's status. */
export type MessageStatus = { readonly status: 'queued'; readonly correlationId: string } | LifecycleRecord;

/**
 * The sender SDK: one client for every policy. It validates against the channel's schema before anything
 * leaves the process, sets correlation ids, picks the mechanism from the policy (SQS for queue channels, a
 * synchronous Lambda invoke with failover for request-response) and reads lifecycle records for status and replies.
 */
export class MessagingClient<Channels extends Catalog = Catalog> {
  public readonly discovered: Discovered;
  public readonly channels: Channels;
  public readonly sqs: SQSClient;
  public readonly dynamo: DynamoDBDocumentClient;
  public readonly lambda: LambdaClient;

  public constructor(discovered: Discovered, channels: Channels) {
    this.discovered = discovered;
    this.channels = channels;
    const common = { region: discovered.region, credentials: discovered.credentials };
    this.sqs = new SQSClient({ ...common, endpoint: discovered.endpoints.sqs });
    this.dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ ...common, endpoint: discovered.endpoints.dynamodb }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    // One attempt: the deadline logic decides what happens after a failure, not the SDK's retry policy.
    this.lambda = new LambdaClient({ ...common, endpoint: discovered.endpoints.lambda, maxAttempts: 1 });
  }

  public channel(name: string): ChannelDefinition {
    return channelFor(this.channels, name);
  }

  /** The output value for a key, or a clear error naming what the stack lacks. */
  public output(key: string): string {
    const value = this.discovered.outputs[key];
    if (!value) throw new StackNotDeployed(`the deployed stack has no output ${key}; is it the same version as this client?`);
    return value;
  }

  /** Checks a payload against the channel's schema and SQS's size limit, returning the body to send. */
  public encode(channelName: string, payload: unknown): string {
    return encodePayload(this.channel(channelName), payload);
  }

  /** Sends to a guaranteed or fire-and-forget channel; resolves once SQS has accepted the message. */
  public async send<Name extends ChannelNameOf<Channels, 'guaranteed' | 'fire-and-forget'>>(
    channelName: Name,
    payload: PayloadOf<Channels[Name]>,
    options: SendOptions = {},
  ): Promise<Acknowledgement<Name>> {
    const [acknowledgement] = await this.sendBatch(channelName, [payload], options);
    return acknowledgement!;
  }

  /**
   * Sends up to 10 messages in one SendMessageBatch; each gets its own correlation id. Entries SQS fails on its own
   * side (SenderFault false) are sent once more, under the same correlation ids, before giving up on them.
   *
   * @returns one acknowledgement per payload, in the payloads' order
   * @throws BatchPartlyRefused when SQS still refuses some entries. The others are stored and will be applied: do
   *   not send them again. The error's `accepted` holds their acknowledgements; its `rejected` holds each refused
   *   message's index, correlation id and SQS's reason. Resend only those, each with
   *   `send(channel, payloads[index], { correlationId })`, so that a message SQS did take after all is applied once.
   */
  public async sendBatch<Name extends ChannelNameOf<Channels, 'guaranteed' | 'fire-and-forget'>>(
    channelName: Name,
    payloads: readonly PayloadOf<Channels[Name]>[],
    options: SendOptions = {},
  ): Promise<Acknowledgement<Name>[]> {
    const channel = channelFor(this.channels, channelName, 'send');
    if (payloads.length < 1 || payloads.length > 10) throw new InvalidArgument('a batch holds 1 to 10 messages');
    if (payloads.length > 1 && options.correlationId) throw new InvalidArgument('a batch cannot share one correlation id');
    const queueUrl = this.output(OutputKey.queueUrl(channelName));
    const fifo = channel.policy.kind === 'guaranteed' && channel.policy.fifo;
    const now = Date.now();
    const entries = payloads.map((payload, index) => {
      const correlationId = options.correlationId ?? randomUUID();
      const attributes: Record<string, MessageAttributeValue> = {
        [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId },
        [MessageAttribute.sentAt]: { DataType: 'Number', StringValue: String(now) },
      };
      if (channel.policy.kind === 'fire-and-forget') {
        attributes[MessageAttribute.expiresAt] = { DataType: 'Number', StringValue: String(now + channel.policy.timeToLiveSeconds * 1000) };
      }
      return {
        Id: String(index),
        MessageBody: this.encode(channelName, payload),
        MessageAttributes: attributes,
        ...(fifo ? { MessageGroupId: options.groupId ?? correlationId, MessageDeduplicationId: correlationId } : {}),
        correlationId,
      };
    });
    if (entries.length === 1) {
      const { correlationId, Id: _id, ...entry } = entries[0]!;
      const { MessageId } = await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, ...entry }));
      return [{ channel: channelName, messageId: MessageId!, correlationId }];
    }
    const sendEntries = async (batch: typeof entries) => {
      const { Successful = [], Failed = [] } = await this.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map(({ correlationId: _c, ...entry }) => entry) }),
      );
      return { successful: Successful, failed: Failed };
    };
    const first = await sendEntries(entries);
    // A failure on SQS's side may pass; the same correlation ids (and FIFO deduplication ids) keep a retry of a
    // message SQS did store after all from being applied twice. The sender's own faults would fail the same way again.
    const serverSide = first.failed.filter((failure) => !failure.SenderFault);
    const retried = serverSide.length > 0 ? await sendEntries(serverSide.map((failure) => entries[Number(failure.Id)]!)) : { successful: [], failed: [] };
    const byIndex = (a: { Id?: string }, b: { Id?: string }) => Number(a.Id) - Number(b.Id);
    const accepted = [...first.successful, ...retried.successful]
      .sort(byIndex)
      .map((success) => ({ channel: channelName, messageId: success.MessageId!, correlationId: entries[Number(success.Id)]!.correlationId }));
    const failed = [...first.failed.filter((failure) => failure.SenderFault), ...retried.failed].sort(byIndex);
    if (failed.length > 0) {
      const rejected = failed.map((failure) => ({
        index: Number(failure.Id),
        correlationId: entries[Number(failure.Id)]!.correlationId,
        code: failure.Code ?? 'Unknown',
        message: failure.Message ?? '',
      }));
      throw new BatchPartlyRefused(channelName, accepted, rejected);
    }
    return accepted;
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
    if (!(deadlineMs > 0)) throw new InvalidArgument(`the deadline must be a positive number of milliseconds, not ${deadlineMs}`);
    if (hedgeAfterFraction !== undefined && !(hedgeAfterFraction > 0 && hedgeAfterFraction < 1)) {
      throw new InvalidArgument(`the hedge fraction must be between 0 and 1, not ${hedgeAfterFraction}`);
    }
    return requestWithFallback<ReplyOf<Channels[Name]>>(this.lambda, {
      channel: channelName,
      body: this.encode(channelName, payload),
      primary: this.output(OutputKey.primaryFunctionName(channelName)),
      fallback: channel.policy.fallback ? this.output(OutputKey.fallbackFunctionName(channelName)) : undefined,
      deadlineMs,
      hedgeAfterFraction,
      failoverAfterFraction: options.failoverAfterFraction ?? 0.6,
      replySchema: channel.replySchema,
    });
  }

  /** Every channel's lifecycle record for a correlation id; 'queued' when no consumer has seen it yet. */
  public async status(correlationId: string): Promise<MessageStatus[]> {
    const { Items = [] } = await this.dynamo.send(
      new QueryCommand({
        TableName: this.output(OutputKey.stateTableName),
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': StateKeys.partitionKey },
        ExpressionAttributeValues: { ':pk': StateKeys.lifecyclePartition(correlationId) },
        ConsistentRead: true,
      }),
    );
    if (Items.length === 0) return [{ status: 'queued', correlationId }];
    return Items.map(({ pk: _pk, sk: _sk, leaseToken: _token, expiresAt: _ttl, ...record }) => record as LifecycleRecord);
  }

  /**
   * Waits for a guaranteed message's reply, polling its lifecycle record with backoff (50 ms doubling to 1 s).
   * Resolves with the reply once applied; throws DeadLettered with the reason, or ReplyTimeout at the timeout.
   * Given the acknowledgement (or the channel), the reply has the channel's reply type.
   */
  public awaitReply<Name extends ChannelNameOf<Channels, 'guaranteed'>>(acknowledgement: Acknowledgement<Name>, options?: Omit<AwaitReplyOptions, 'channel'>): Promise<ReplyOf<Channels[Name]>>;
  public awaitReply<Name extends ChannelNameOf<Channels, 'guaranteed'>>(correlationId: string, options: AwaitReplyOptions<Name> & { channel: Name }): Promise<ReplyOf<Channels[Name]>>;
  public awaitReply(correlationId: string, options?: Omit<AwaitReplyOptions, 'channel'>): Promise<unknown>;
  public async awaitReply(target: string | Acknowledgement, options: AwaitReplyOptions = {}): Promise<unknown> {
    const { correlationId, channel } = typeof target === 'string' ? { correlationId: target, channel: options.channel } : target;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const giveUpAt = Date.now() + timeoutMs;
    let delay = 50;
    for (;;) {
      const records = (await this.status(correlationId)).filter((record) => !channel || ('channel' in record && record.channel === channel));
      const record = records.find((candidate) => candidate.status === 'succeeded' || candidate.status === 'dead-lettered');
      if (record?.status === 'succeeded') return (record as LifecycleRecord).reply;
      if (record?.status === 'dead-lettered') throw new DeadLettered(`${correlationId} was dead-lettered: ${(record as LifecycleRecord).reason ?? 'no reason recorded'}`);
      const remaining = giveUpAt - Date.now();
      if (remaining <= 0) {
        const last = records[0];
        throw new ReplyTimeout(`no reply for ${correlationId} within ${timeoutMs} ms (status: ${last?.status ?? 'queued'})`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, remaining)));
      delay = Math.min(delay * 2, 1000);
    }
  }

  public destroy(): void {
    this.sqs.destroy();
    this.dynamo.destroy();
    this.lambda.destroy();
  }
}

/** A client for the given catalog, typed by it: channel names, payloads and replies are checked at compile time. */
export async function createClient<Channels extends Catalog>(options: ClientOptions<Channels>): Promise<MessagingClient<Channels>> {
  return new MessagingClient(await discover(options), options.channels);
}

/** Parses user-supplied JSON text with an error that says what is wrong, not where in the parser. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidJson(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}
