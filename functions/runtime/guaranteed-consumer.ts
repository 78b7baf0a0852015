import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { MessageAttribute, type ChannelDefinition, type GuaranteedPolicy } from '../../lib/policy/index.ts';
import { backoffSeconds } from '../../lib/policy/index.ts';
import { defaultClients, endpointsFromEnv, policyFromEnv, type ChannelEndpoints, type ConsumerClients } from './config.ts';
import { sendToDeadLetterQueue } from './dead-letter.ts';
import { ConsumerConfigurationError, LeaseHeldError, PermanentError, reasonOf } from './errors.ts';
import { LifecycleStore, type MessageIdentity } from './lifecycle-store.ts';
import { parseMessage } from './parse.ts';
import { createTelemetry, type Telemetry } from './telemetry.ts';
import type { BatchResponse, HandlerOutcome, MessageContext, RecordOutcome } from './types.ts';

export interface GuaranteedConsumerOptions<Schema extends z.ZodType, Reply> {
  readonly channel: ChannelDefinition<Schema, z.ZodType | undefined>;
  /** Runs once per message that is new, valid and (for 'outside' effects) claimed. Throw to retry; throw PermanentError to dead-letter. */
  readonly handle: (payload: z.infer<Schema>, context: MessageContext) => Promise<HandlerOutcome<Reply>>;
  /** @default - from the environment the Channel construct sets */
  readonly endpoints?: ChannelEndpoints;
  /** @default - from CHANNEL_POLICY, else the channel definition's */
  readonly policy?: GuaranteedPolicy;
  readonly clients?: ConsumerClients;
  /** @default Date.now */
  readonly clock?: () => number;
}

/**
 * Consumes a guaranteed channel's SQS batches: validates, dedupes on the correlation id, applies each message's
 * effect exactly once, retries transient failures with capped exponential backoff, and dead-letters with a reason.
 * Every record ends as success or failure in the batch response; nothing escapes as a thrown error, because a
 * thrown error would return the whole batch, successes included, to the queue.
 */
export class GuaranteedConsumer<Schema extends z.ZodType, Reply> {
  readonly #options: GuaranteedConsumerOptions<Schema, Reply>;
  readonly #policy: GuaranteedPolicy;
  readonly #endpoints: ChannelEndpoints;
  readonly #clients: ConsumerClients;
  readonly #store: LifecycleStore;
  readonly #telemetry: Telemetry;
  readonly #clock: () => number;

  public constructor(options: GuaranteedConsumerOptions<Schema, Reply>) {
    const policy = options.policy ?? policyFromEnv(options.channel.policy);
    if (policy.kind !== 'guaranteed') throw new ConsumerConfigurationError(`${options.channel.name} is not a guaranteed channel`);
    this.#options = options;
    this.#policy = policy;
    this.#endpoints = options.endpoints ?? endpointsFromEnv();
    if (!this.#endpoints.queueUrl || !this.#endpoints.deadLetterQueueUrl) {
      throw new ConsumerConfigurationError(`${options.channel.name}: a guaranteed consumer needs its queue and DLQ URLs`);
    }
    this.#clients = options.clients ?? defaultClients();
    this.#store = new LifecycleStore(this.#clients.dynamo, this.#endpoints.tableName);
    this.#telemetry = createTelemetry(options.channel.name);
    this.#clock = options.clock ?? Date.now;
  }

  public async processBatch(event: SQSEvent, lambdaContext?: Context): Promise<BatchResponse> {
    if (lambdaContext) this.#telemetry.logger.addContext(lambdaContext);
    const failures: { itemIdentifier: string }[] = [];
    try {
      if (this.#policy.fifo) {
        // A failure in a message group stops that group's later records: running them would break the group's order.
        const failedGroups = new Set<string>();
        for (const record of event.Records) {
          const group = record.attributes.MessageGroupId ?? '';
          const outcome = failedGroups.has(group) ? 'skipped-after-group-failure' : await this.#processRecord(record);
          if (isFailure(outcome)) {
            failedGroups.add(group);
            failures.push({ itemIdentifier: record.messageId });
          }
        }
      } else {
        const outcomes = await Promise.all(event.Records.map((record) => this.#processRecord(record)));
        outcomes.forEach((outcome, index) => {
          if (isFailure(outcome)) failures.push({ itemIdentifier: event.Records[index]!.messageId });
        });
      }
    } finally {
      this.#telemetry.metrics.publishStoredMetrics();
    }
    return { batchItemFailures: failures };
  }

  async #processRecord(record: SQSRecord): Promise<RecordOutcome> {
    const id: MessageIdentity = {
      channel: this.#options.channel.name,
      messageId: record.messageId,
      correlationId: record.messageAttributes?.[MessageAttribute.correlationId]?.stringValue ?? record.messageId,
      attempt: Number(record.attributes.ApproximateReceiveCount ?? '1'),
    };
    const logger = this.#telemetry.logger.createChild({
      persistentKeys: { messageId: id.messageId, correlationId: id.correlationId, channel: id.channel, attempt: id.attempt },
    });
    const parsed = parseMessage(this.#options.channel.schema, record.body);
    if (!parsed.success) return this.#deadLetter(record, id, parsed.reason, logger, { countAttempt: true });

    const context: MessageContext = { ...id, tableName: this.#endpoints.tableName, logger, record };
    const outside = this.#policy.effect === 'outside';
    try {
      const outcome = outside ? await this.#applyOutside(id, parsed.payload, context) : await this.#applyTransactional(id, parsed.payload, context);
      this.#telemetry.count(outcome === 'duplicate' ? 'duplicates' : 'processed');
      logger.info(outcome === 'duplicate' ? 'duplicate skipped' : 'message applied');
      return outcome;
    } catch (error) {
      const reason = reasonOf(error);
      if (error instanceof PermanentError) return this.#deadLetter(record, id, reason, logger, { countAttempt: !outside });
      // Another delivery is applying this message right now: step back without touching its record or lease.
      if (!(error instanceof LeaseHeldError) && id.attempt >= this.#policy.maxReceiveCount) {
        return this.#deadLetter(record, id, `gave up after ${id.attempt} attempts: ${reason}`, logger, { countAttempt: !outside });
      }
      return this.#retryLater(record, id, error, logger, { countAttempt: !outside });
    }
  }

  async #applyTransactional(id: MessageIdentity, payload: z.infer<Schema>, context: MessageContext): Promise<RecordOutcome> {
    const outcome = await this.#options.handle(payload, context);
    const result = await this.#store.commit(id, outcome.writes ?? [], this.#replyOf(outcome), this.#clock());
    return result === 'duplicate' ? 'duplicate' : 'succeeded';
  }

  async #applyOutside(id: MessageIdentity, payload: z.infer<Schema>, context: MessageContext): Promise<RecordOutcome> {
    const claim = await this.#store.claim(id, this.#policy.leaseSeconds, this.#clock());
    if (claim.outcome === 'duplicate') return 'duplicate';
    if (claim.outcome !== 'claimed') throw new LeaseHeldError(`another delivery of ${id.correlationId} holds its lease`);
    const outcome = await this.#options.handle(payload, context);
    const completed = await this.#store.complete(id, claim.token, outcome.writes ?? [], this.#replyOf(outcome), this.#clock());
    if (!completed) context.logger.warn('lease lost before completion: another delivery took the message over');
    return 'succeeded';
  }

  #replyOf(outcome: HandlerOutcome<Reply>): unknown {
    if (!this.#policy.reply) return undefined;
    const schema = this.#options.channel.replySchema;
    // A reply that breaks its schema is a handler bug the caller must not receive: it fails the attempt.
    return schema ? schema.parse(outcome.reply) : outcome.reply;
  }

  async #retryLater(record: SQSRecord, id: MessageIdentity, error: unknown, logger: Telemetry['logger'], options: { countAttempt: boolean }): Promise<RecordOutcome> {
    const reason = reasonOf(error);
    const delay = backoffSeconds(this.#policy, id.attempt);
    logger.warn('attempt failed; retrying after backoff', { reason, backoffSeconds: delay });
    this.#telemetry.count('failed');
    try {
      if (!(error instanceof LeaseHeldError)) await this.#store.recordFailure(id, reason, this.#clock(), options);
      await this.#clients.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: this.#endpoints.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: delay }),
      );
    } catch (bookkeepingError) {
      // The record is reported failed either way; it then returns after the queue's own visibility timeout.
      logger.error('could not record the failure or set the backoff', { reason: reasonOf(bookkeepingError) });
    }
    return 'retry';
  }

  async #deadLetter(record: SQSRecord, id: MessageIdentity, reason: string, logger: Telemetry['logger'], options: { countAttempt: boolean }): Promise<RecordOutcome> {
    try {
      await sendToDeadLetterQueue(this.#clients.sqs, this.#endpoints.deadLetterQueueUrl!, record, reason, id.attempt);
    } catch (error) {
      // Not in the DLQ, so it must not be deleted: report it failed and let SQS deliver it again.
      logger.error('could not dead-letter the message; it stays on the queue', { reason, error: reasonOf(error) });
      this.#telemetry.count('failed');
      return 'retry';
    }
    this.#telemetry.count('deadLettered');
    logger.error('message dead-lettered', { reason });
    try {
      await this.#store.recordDeadLettered(id, reason, this.#clock(), options);
    } catch (error) {
      // The message is safe in the DLQ with its reason; only the status view is behind.
      logger.error('dead-lettered, but the lifecycle record could not be updated', { error: reasonOf(error) });
    }
    return 'dead-lettered';
  }
}

function isFailure(outcome: RecordOutcome): boolean {
  return outcome === 'retry' || outcome === 'skipped-after-group-failure';
}

/** The Lambda handler for a guaranteed channel: `export const handler = guaranteedConsumer({ channel, handle })`. */
export function guaranteedConsumer<Schema extends z.ZodType, Reply>(options: GuaranteedConsumerOptions<Schema, Reply>) {
  let consumer: GuaranteedConsumer<Schema, Reply> | undefined;
  return async (event: SQSEvent, context?: Context): Promise<BatchResponse> => {
    consumer ??= new GuaranteedConsumer(options);
    return consumer.processBatch(event, context);
  };
}
