import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { MessageAttribute, parseMessage, type Catalog, type ChannelDefinition, type Schema as AnySchema, type FireAndForgetPolicy, type TopicCatalog } from '../../lib/policy/index.ts';
import { atMostAtOnce, RECORDS_AT_ONCE } from './at-most-at-once.ts';
import { defaultClients, endpointsFromEnv, type ChannelEndpoints, type ConsumerClients } from './config.ts';
import { policyFromEnv } from './deployment.ts';
import { ConsumerConfigurationError, reasonOf } from './errors.ts';
import { correlationIdOf, deliverOnward, flowOf, onwardClients, outputsFromEnv, prepareOnward, type AnyOnward, type Cause, type Onward, type OnwardClients } from './onward.ts';
import { createTelemetry, type Telemetry } from './telemetry.ts';
import { inBatchSpan, inRecordSpan, traceKeys, type RecordTrace } from './tracing.ts';
import type { BatchResponse, MessageContext, RecordOutcome } from './types.ts';

/** What a fire-and-forget handler sees besides the common context: when its message stops being worth anything. */
export interface ExpiringMessageContext extends MessageContext {
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export interface FireAndForgetConsumerOptions<Schema extends AnySchema, SendsTo extends Catalog = Record<never, never>, PublishesTo extends TopicCatalog = Record<never, never>> {
  readonly channel: ChannelDefinition<Schema, AnySchema | undefined, 'fire-and-forget'>;
  /**
   * Runs for a live, valid message. It may return messages to send on (see HandlerOutcome), which are sent after it
   * returns, under ids derived from this message; as for the message itself, one that cannot be sent is dropped.
   */
  readonly handle: (payload: z.output<Schema>, context: ExpiringMessageContext) => Promise<void | Onward<{ channels: SendsTo; topics: PublishesTo }>>;
  /** The channels its handler sends on to. @default - none */
  readonly sendsTo?: SendsTo;
  /** The topics its handler publishes to. @default - none */
  readonly publishesTo?: PublishesTo;
  /** Where onward messages go, by output key. @default - the variables ChannelCatalog's onward grants set */
  readonly outputs?: Readonly<Record<string, string>>;
  readonly endpoints?: ChannelEndpoints;
  readonly policy?: FireAndForgetPolicy;
  readonly clients?: ConsumerClients;
  readonly clock?: () => number;
}

/**
 * Consumes a fire-and-forget channel: a message past its expiry is dropped without running the handler; a
 * failing handler is logged and its message dropped. The batch response is always empty, so nothing is ever
 * retried and, with no DLQ, nothing is ever dead-lettered.
 */
export class FireAndForgetConsumer<Schema extends AnySchema, SendsTo extends Catalog = Record<never, never>, PublishesTo extends TopicCatalog = Record<never, never>> {
  readonly #options: FireAndForgetConsumerOptions<Schema, SendsTo, PublishesTo>;
  readonly #policy: FireAndForgetPolicy;
  readonly #endpoints: ChannelEndpoints;
  readonly #clients: ConsumerClients;
  readonly #telemetry: Telemetry;
  readonly #clock: () => number;
  readonly #onwardClients: OnwardClients;

  public constructor(options: FireAndForgetConsumerOptions<Schema, SendsTo, PublishesTo>) {
    const policy = options.policy ?? policyFromEnv(options.channel);
    if (policy.kind !== 'fire-and-forget') throw new ConsumerConfigurationError(`${options.channel.name} is not a fire-and-forget channel`);
    this.#options = options;
    this.#policy = policy;
    this.#endpoints = options.endpoints ?? endpointsFromEnv();
    this.#clients = options.clients ?? defaultClients();
    this.#telemetry = createTelemetry(options.channel.name);
    this.#clock = options.clock ?? Date.now;
    this.#onwardClients = onwardClients(this.#clients);
  }

  public async processBatch(event: SQSEvent, lambdaContext?: Context): Promise<BatchResponse> {
    this.#telemetry.startInvocation(lambdaContext);
    try {
      const channel = this.#options.channel.name;
      await inBatchSpan(channel, event.Records, () =>
        atMostAtOnce(event.Records, RECORDS_AT_ONCE, (record) =>
          inRecordSpan(channel, record, correlationIdOf(record), (recordTrace) => this.#processRecord(record, recordTrace), (outcome) => (outcome === 'succeeded' ? undefined : outcome)),
        ),
      );
    } finally {
      this.#telemetry.publishMetrics();
    }
    return { batchItemFailures: [] };
  }

  /**
   * The SDK stamps a message's expiresAt. An event published to a topic carries when it was published (sentAt), and
   * each subscriber's time to live counts from then, never from later than SQS accepted it; a message sent behind the
   * SDK's back expires its time to live after SQS accepted it.
   */
  public expiryOf(record: SQSRecord): number {
    const stamped = Number(record.messageAttributes?.[MessageAttribute.expiresAt]?.stringValue);
    if (Number.isFinite(stamped) && stamped > 0) return stamped;
    const accepted = Number(record.attributes.SentTimestamp);
    const published = Number(record.messageAttributes?.[MessageAttribute.sentAt]?.stringValue);
    const from = Number.isFinite(published) && published > 0 ? Math.min(published, accepted) : accepted;
    return from + this.#policy.timeToLiveSeconds * 1000;
  }

  async #processRecord(record: SQSRecord, recordTrace: RecordTrace): Promise<RecordOutcome> {
    const correlationId = correlationIdOf(record);
    const attempt = Number(record.attributes.ApproximateReceiveCount ?? '1');
    const logger = this.#telemetry.logger.child({ messageId: record.messageId, correlationId, channel: this.#options.channel.name, attempt, ...traceKeys(recordTrace) });
    const expiresAt = this.expiryOf(record);
    if (this.#clock() >= expiresAt) {
      this.#telemetry.count('expired');
      logger.info('expired message dropped', { expiresAt });
      return 'expired';
    }
    const parsed = parseMessage(this.#options.channel.schema, record.body);
    if (!parsed.success) {
      this.#telemetry.count('dropped');
      logger.warn('invalid message dropped', { reason: parsed.reason });
      return 'dropped';
    }
    const flow = flowOf(record.messageAttributes, correlationId);
    let onward: AnyOnward | void;
    try {
      onward = await this.#options.handle(parsed.payload, {
        channel: this.#options.channel.name,
        messageId: record.messageId,
        correlationId,
        ...flow,
        idempotencyKey: correlationId,
        attempt,
        tableName: this.#endpoints.tableName,
        logger,
        record,
        expiresAt,
        clients: this.#clients,
      });
    } catch (error) {
      this.#telemetry.count('dropped');
      logger.warn('handler failed; message dropped (fire-and-forget is never retried)', { reason: reasonOf(error) });
      return 'dropped';
    }
    this.#telemetry.count('processed');
    if (onward) await this.#sendOn(onward, { channel: this.#options.channel.name, correlationId, flowId: flow.flowId, trace: recordTrace.attributes }, logger);
    return 'succeeded';
  }

  /** Sends the handler's onward messages once; what cannot be sent is dropped with its message's other worth. */
  async #sendOn(onward: AnyOnward, cause: Cause, logger: Telemetry['logger']): Promise<void> {
    try {
      const messages = prepareOnward(onward, { channels: this.#options.sendsTo, topics: this.#options.publishesTo }, cause, this.#clock());
      await deliverOnward(messages, this.#onwardClients, this.#options.outputs ?? outputsFromEnv());
    } catch (error) {
      this.#telemetry.count('dropped');
      logger.warn('onward messages not all sent; dropped (fire-and-forget is never retried)', { reason: reasonOf(error) });
    }
  }
}

/** The Lambda handler for a fire-and-forget channel. */
export function fireAndForgetConsumer<Schema extends AnySchema, SendsTo extends Catalog = Record<never, never>, PublishesTo extends TopicCatalog = Record<never, never>>(
  options: FireAndForgetConsumerOptions<Schema, SendsTo, PublishesTo>,
) {
  let consumer: FireAndForgetConsumer<Schema, SendsTo, PublishesTo> | undefined;
  return async (event: SQSEvent, context?: Context): Promise<BatchResponse> => {
    consumer ??= new FireAndForgetConsumer(options);
    return consumer.processBatch(event, context);
  };
}
