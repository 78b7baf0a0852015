import { ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import {
  backoffSeconds,
  onTheWire,
  parseMessage,
  SQS_MAX_VISIBILITY_SECONDS,
  type Catalog,
  type ChannelDefinition,
  type Schema as AnySchema,
  type GuaranteedPolicy,
  type LifecycleRecord,
  type OnwardMessage,
  type ReplyInputOf,
  type TopicCatalog,
} from '../../lib/policy/index.ts';
import { atMostAtOnce, RECORDS_AT_ONCE } from './at-most-at-once.ts';
import { BatchDeadline } from './batch-deadline.ts';
import { defaultClients, endpointsFromEnv, type ChannelEndpoints, type ConsumerClients } from './config.ts';
import { policyFromEnv } from './deployment.ts';
import { DeadLetterCopyTooLarge, recordAsSent, sendToDeadLetterQueue, type Verdict } from './dead-letter.ts';
import { ConsumerConfigurationError, PermanentError, permanentDynamoFailure, reasonOf } from './errors.ts';
import { LifecycleStore, type AttemptRecord, type MessageIdentity } from './lifecycle-store.ts';
import { correlationIdOf, deliverOnward, flowOf, onwardClients, outputsFromEnv, prepareOnward, type AnyOnward, type OnwardClients } from './onward.ts';
import { sendReplyNotice } from './reply-notice.ts';
import { createTelemetry, type Telemetry } from './telemetry.ts';
import { inBatchSpan, inRecordSpan, traceKeys, type RecordTrace } from './tracing.ts';
import type { BatchResponse, HandlerOutcome, MessageContext, RecordOutcome, TransactWrite } from './types.ts';

export interface GuaranteedConsumerOptions<
  Schema extends AnySchema,
  ReplySchema extends AnySchema | undefined,
  SendsTo extends Catalog = Record<never, never>,
  PublishesTo extends TopicCatalog = Record<never, never>,
> {
  readonly channel: ChannelDefinition<Schema, ReplySchema, 'guaranteed'>;
  /** The channels its handler sends on to (`send` in its outcome), as the channels module exports them. @default - none */
  readonly sendsTo?: SendsTo;
  /** The topics its handler publishes to (`publish` in its outcome). @default - none */
  readonly publishesTo?: PublishesTo;
  /** Where onward messages go, by output key. @default - the variables ChannelCatalog's onward grants set */
  readonly outputs?: Readonly<Record<string, string>>;
  /**
   * Runs for a message that is new, valid and (for 'outside' effects) claimed. Throw to retry; throw PermanentError
   * to dead-letter. An 'outside' effect is at-least-once when an attempt does not reach its completion after the
   * effect (a crash or timeout, a failed completion, an attempt cut off at the batch deadline that outlives its
   * lease): pass `context.idempotencyKey` to the outside system so it can drop the repeat.
   */
  readonly handle: (payload: z.output<Schema>, context: MessageContext) => Promise<HandlerOutcome<ReplyInputOf<ReplySchema>, { channels: SendsTo; topics: PublishesTo }>>;
  /** @default - from the environment the Channel construct sets */
  readonly endpoints?: ChannelEndpoints;
  /** @default - from CHANNEL_POLICY, else the channel definition's */
  readonly policy?: GuaranteedPolicy;
  readonly clients?: ConsumerClients;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** How one record ended and, for a retry, after how many seconds it comes back. */
interface RecordResult {
  readonly outcome: RecordOutcome;
  readonly retryAfterSeconds?: number;
}

type Logger = Telemetry['logger'];

/** A handler's result, whatever its reply's and onward targets' types. */
type AnyOutcome = { readonly writes?: readonly TransactWrite[]; readonly reply?: unknown } & AnyOnward;

/** One transaction holds 100 items, and the lifecycle record is one of them. */
const MAX_HANDLER_WRITES = 99;


/**
 * Consumes a guaranteed channel's SQS batches: validates, dedupes on the correlation id, applies each message's
 * effect exactly once, retries transient failures with capped exponential backoff, and dead-letters with a reason.
 *
 * The runtime owns the attempt budget: it counts the attempts that ran the handler in the lifecycle record and
 * decides retry or dead-letter from that count, so receives that never reached the handler (throttles, FIFO records
 * held behind a failed one, step-backs from a held lease, records cut off at the deadline) do not use it up. The
 * queue's maxReceiveCount is a backstop above the budget; on its last receive the runtime dead-letters with a
 * reason rather than leave the message to a redrive that would record none.
 *
 * Every record ends as success or failure in the batch response; nothing escapes as a thrown error, because a
 * thrown error would return the whole batch, successes included, to the queue.
 */
export class GuaranteedConsumer<
  Schema extends AnySchema,
  ReplySchema extends AnySchema | undefined = AnySchema | undefined,
  SendsTo extends Catalog = Record<never, never>,
  PublishesTo extends TopicCatalog = Record<never, never>,
> {
  readonly #options: GuaranteedConsumerOptions<Schema, ReplySchema, SendsTo, PublishesTo>;
  readonly #policy: GuaranteedPolicy;
  readonly #endpoints: ChannelEndpoints;
  readonly #clients: ConsumerClients;
  readonly #store: LifecycleStore;
  readonly #telemetry: Telemetry;
  readonly #clock: () => number;
  readonly #onwardClients: OnwardClients;
  #outputs: Readonly<Record<string, string>> | undefined;

  public constructor(options: GuaranteedConsumerOptions<Schema, ReplySchema, SendsTo, PublishesTo>) {
    const policy = options.policy ?? policyFromEnv(options.channel);
    if (policy.kind !== 'guaranteed') throw new ConsumerConfigurationError(`${options.channel.name} is not a guaranteed channel`);
    this.#options = options;
    this.#policy = policy;
    this.#endpoints = options.endpoints ?? endpointsFromEnv();
    if (!this.#endpoints.queueUrl || !this.#endpoints.deadLetterQueueUrl || !this.#endpoints.lifecycleTableName) {
      throw new ConsumerConfigurationError(`${options.channel.name}: a guaranteed consumer needs its queue and DLQ URLs and its lifecycle table`);
    }
    this.#clients = options.clients ?? defaultClients();
    this.#store = new LifecycleStore(this.#clients.dynamo, this.#endpoints.lifecycleTableName);
    this.#telemetry = createTelemetry(options.channel.name);
    this.#clock = options.clock ?? Date.now;
    this.#onwardClients = onwardClients(this.#clients);
  }

  public async processBatch(event: SQSEvent, lambdaContext?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<BatchResponse> {
    if (lambdaContext && 'functionName' in lambdaContext) this.#telemetry.startInvocation(lambdaContext as Context);
    const deadline = lambdaContext ? BatchDeadline.forRemaining(lambdaContext.getRemainingTimeInMillis()) : undefined;
    let results: RecordResult[];
    try {
      results = await inBatchSpan(this.#options.channel.name, event.Records, () =>
        this.#policy.fifo
          ? this.#processInGroupOrder(event.Records, deadline)
          : atMostAtOnce(event.Records, RECORDS_AT_ONCE, (record) => this.#beforeDeadline(record, deadline)),
      );
    } finally {
      deadline?.cancel();
      this.#telemetry.publishMetrics();
    }
    return {
      batchItemFailures: event.Records.filter((_, index) => isFailure(results[index]!.outcome)).map((record) => ({ itemIdentifier: record.messageId })),
    };
  }

  async #beforeDeadline(record: SQSRecord, deadline: BatchDeadline | undefined): Promise<RecordResult> {
    // A record not started by the deadline is not started: it would run on after the batch has answered.
    if (deadline?.passed) return { outcome: 'cut-off' };
    const process = async (recordTrace: RecordTrace): Promise<RecordResult> => {
      if (!deadline) return this.#processRecord(record, recordTrace);
      const result = await deadline.race(this.#processRecord(record, recordTrace, deadline));
      return result === 'cut-off' ? { outcome: 'cut-off' } : result;
    };
    return inRecordSpan(this.#options.channel.name, record, correlationIdOf(record), process, ({ outcome }) => (isFailure(outcome) || outcome === 'dead-lettered' ? outcome : undefined));
  }

  /**
   * Groups run side by side, each group's records in order. A failure in a group holds back that group's later
   * records: running them would break the group's order. The held records come back with the failed one, so the
   * group's backoff holds for all of them.
   */
  async #processInGroupOrder(records: readonly SQSRecord[], deadline: BatchDeadline | undefined): Promise<RecordResult[]> {
    const results: RecordResult[] = [];
    const heldBack: { record: SQSRecord; delay: number }[] = [];
    const groups = new Map<string, number[]>();
    records.forEach((record, index) => {
      const group = record.attributes.MessageGroupId ?? '';
      groups.set(group, [...(groups.get(group) ?? []), index]);
    });
    const runGroup = async (indexes: readonly number[]) => {
      let failed: { delay: number | undefined } | undefined;
      for (const index of indexes) {
        const record = records[index]!;
        let result: RecordResult;
        if (deadline?.passed) {
          result = { outcome: 'cut-off' };
        } else if (failed) {
          result = await this.#holdBack(record);
          if (result.outcome === 'skipped-after-group-failure' && failed.delay !== undefined) heldBack.push({ record, delay: failed.delay });
        } else {
          result = await this.#beforeDeadline(record, deadline);
          if (isFailure(result.outcome)) failed = { delay: result.retryAfterSeconds };
        }
        results[index] = result;
      }
    };
    await Promise.all([...groups.values()].map(runGroup));
    await this.#delay(heldBack);
    return results;
  }

  async #holdBack(record: SQSRecord): Promise<RecordResult> {
    const id = identityOf(this.#options.channel.name, record);
    if (this.#onLastReceive(id)) {
      return this.#deadLetter(record, id, this.#loggerFor(id), {
        reason: `receive limit (${this.#policy.maxReceiveCount}) reached while an earlier message of its group was retried`,
        increment: 0,
      });
    }
    return { outcome: 'skipped-after-group-failure' };
  }

  /**
   * Once the batch deadline has passed, the batch has answered for this record (failed, to come back) and Lambda may
   * freeze the instance at any moment, to thaw it in some later invocation: a record cut off does nothing more that
   * lasts. No handler starts, no transaction commits, no failure is recorded, so that nothing lands minutes later,
   * after the message was applied, dead-lettered or overtaken in its FIFO group by its own redelivery. An outside
   * handler already running finishes; its lease, completed or left to expire, keeps it to one application. A lease
   * claimed for a handler that then does not start is given back, on its token, which no later holder shares.
   */
  async #processRecord(delivered: SQSRecord, recordTrace: RecordTrace, deadline?: BatchDeadline): Promise<RecordResult> {
    const cutOff = () => deadline?.passed === true;
    const record = recordAsSent(delivered);
    this.#telemetry.observe('oldestMessageAgeSeconds', Math.max(0, (this.#clock() - Number(record.attributes.SentTimestamp)) / 1000) || 0);
    const id = identityOf(this.#options.channel.name, record);
    const logger = this.#loggerFor(id, recordTrace);
    const parsed = parseMessage(this.#options.channel.schema, record.body);
    if (!parsed.success) return this.#deadLetter(record, id, logger, { reason: parsed.reason, increment: 1 });

    const context: MessageContext = { ...id, flowId: id.flowId ?? id.correlationId, idempotencyKey: id.correlationId, tableName: this.#endpoints.tableName, clients: this.#clients, logger, record };
    let leaseToken: string | undefined;
    let handlerRan = false;
    try {
      if (this.#policy.effect === 'outside') {
        const claim = await this.#store.claim(id, this.#policy.leaseSeconds, this.#clock());
        // Awaited here, so that a failed read of the outbox is a failure of this record, not of the batch.
        if (claim.outcome === 'duplicate') return claim.outboxPending ? await this.#finishOutbox(record, id, logger) : this.#applied('duplicate', logger);
        if (claim.outcome === 'held') return this.#stepBack(record, id, logger, claim.leaseUntil);
        if (claim.outcome === 'effect-applied') {
          // This very message was dead-lettered with its effect applied, and its DLQ copy may not have been sent; any
          // other delivery (a redrive, a repeated send) is a duplicate of an effect already applied.
          if (claim.messageId !== id.messageId) return this.#applied('duplicate', logger);
          return this.#sentToDeadLetterQueue(record, logger, { reason: claim.reason, attempts: id.attempt, correlationId: id.correlationId });
        }
        leaseToken = claim.token;
      }
      if (cutOff()) {
        // A lease held for a handler that will not run would keep the next delivery out until it expired.
        if (leaseToken) await this.#store.release(id, leaseToken, this.#clock()).catch((error) => logger.warn('could not give back the lease; it expires', { error: reasonOf(error) }));
        return { outcome: 'cut-off' };
      }
      handlerRan = true;
      const outcome = await this.#options.handle(parsed.payload, context);
      if (leaseToken) return await this.#complete(record, id, logger, leaseToken, outcome, recordTrace);
      if (cutOff()) return { outcome: 'cut-off' };
      const { writes, reply, onward } = this.#resultOf(outcome, id, recordTrace);
      const committed = await this.#store.commit(id, writes, reply, this.#clock(), onward);
      if (committed === 'duplicate') return await this.#finishOutbox(record, id, logger);
      return await this.#sentOnAndNoticed(record, id, logger, onward);
    } catch (error) {
      if (cutOff()) return { outcome: 'cut-off' };
      return this.#afterFailure(record, id, error, logger, { handlerRan, leaseToken });
    }
  }

  /** The writes, reply and onward messages of a handler's result, or the reason they cannot be kept: a handler bug, never transient. */
  #resultOf(outcome: AnyOutcome, id: MessageIdentity, recordTrace: RecordTrace): { writes: readonly TransactWrite[]; reply: unknown; onward: OnwardMessage[] } {
    const writes = outcome.writes ?? [];
    if (writes.length > MAX_HANDLER_WRITES) {
      throw new PermanentError(`the handler returned ${writes.length} writes; one transaction holds ${MAX_HANDLER_WRITES} besides the lifecycle record`);
    }
    const cause = { channel: id.channel, correlationId: id.correlationId, flowId: id.flowId ?? id.correlationId, trace: recordTrace.attributes };
    const onward = prepareOnward(outcome, { channels: this.#options.sendsTo, topics: this.#options.publishesTo }, cause, this.#clock());
    return { writes, reply: this.#replyOf(outcome), onward };
  }

  /**
   * Sends a committed message's onward messages, then empties its outbox. A send (or the emptying) that fails brings
   * the message back (its effect is not applied again: it is a duplicate), and its next delivery sends them all again.
   */
  async #sentOn(record: SQSRecord, id: MessageIdentity, logger: Logger, onward: readonly OnwardMessage[], outcome: 'succeeded' | 'duplicate' = 'succeeded'): Promise<RecordResult> {
    if (onward.length > 0) {
      try {
        this.#outputs ??= this.#options.outputs ?? outputsFromEnv();
        await deliverOnward(onward, this.#onwardClients, this.#outputs);
        await this.#store.markSentOn(id, this.#clock());
      } catch (error) {
        // Sent or not, the outbox stays until a delivery empties it, so the record never says pending for nothing
        // nor sent for what was not: the next delivery sends them again, under the same ids, deduped downstream.
        if (this.#onLastReceive(id)) {
          // SQS's redrive would move it with no word of why; the copy says it, and its redrive finishes the outbox.
          const reason = `its effect is applied, but its onward messages could not all be sent by receive ${id.attempt} of ${this.#policy.maxReceiveCount}; a redrive sends them, applying nothing again: ${reasonOf(error)}`;
          return this.#sentToDeadLetterQueue(record, logger, { reason, attempts: id.attempt, correlationId: id.correlationId });
        }
        logger.error('applied, but its onward messages could not all be sent and recorded; it comes back for them', { error: reasonOf(error) });
        this.#telemetry.count('failed');
        return this.#retryLater(record, logger, this.#policy.backoffBaseSeconds);
      }
    }
    return this.#applied(outcome, logger);
  }

  /** A message applied by an earlier delivery: its outbox, if that delivery did not empty it, is sent now. */
  async #finishOutbox(record: SQSRecord, id: MessageIdentity, logger: Logger, stored?: LifecycleRecord): Promise<RecordResult> {
    const found = stored ?? (await this.#store.get(id.correlationId, id.channel));
    return this.#sentOn(record, id, logger, found?.outbox ?? [], 'duplicate');
  }

  /**
   * Completes an outside effect, which is out in the world once its handler has returned. A result that cannot be kept
   * (a reply breaking its schema, writes DynamoDB refuses for good) must not run the handler again, as a retry or a
   * redrive would: the message is dead-lettered as applied. Only a transient failure of the completion is retried, and
   * runs the effect again: the window README documents.
   */
  async #complete(record: SQSRecord, id: MessageIdentity, logger: Logger, leaseToken: string, outcome: AnyOutcome, recordTrace: RecordTrace): Promise<RecordResult> {
    let result;
    try {
      result = this.#resultOf(outcome, id, recordTrace);
    } catch (error) {
      return this.#deadLetterApplied(record, id, logger, leaseToken, reasonOf(error));
    }
    try {
      const completed = await this.#store.complete(id, leaseToken, result.writes, result.reply, this.#clock(), result.onward);
      if (!completed) {
        logger.warn('lease lost before completion: another delivery took the message over');
        return this.#applied('succeeded', logger);
      }
    } catch (error) {
      const permanent = permanentDynamoFailure(error);
      if (permanent === undefined) throw error;
      return this.#deadLetterApplied(record, id, logger, leaseToken, permanent);
    }
    return this.#sentOnAndNoticed(record, id, logger, result.onward);
  }

  /** A message just committed: its onward messages go, and beside them the notice its caller may wait on. */
  async #sentOnAndNoticed(record: SQSRecord, id: MessageIdentity, logger: Logger, onward: readonly OnwardMessage[]): Promise<RecordResult> {
    const [result] = await Promise.all([this.#sentOn(record, id, logger, onward), this.#noticeOfRecord(record, id, logger)]);
    return result;
  }

  /**
   * Tells a caller waiting on the message (see sendReplyNotice) that its record has its end: a reply, or that it was
   * dead-lettered. Never rejects.
   */
  async #noticeOfRecord(record: SQSRecord, id: MessageIdentity, logger: Logger): Promise<void> {
    if (!this.#policy.reply) return;
    const queues = { prefix: this.#endpoints.replyQueuePrefix, queueUrl: this.#endpoints.queueUrl! };
    await sendReplyNotice(this.#clients.sqs, queues, record, { channel: id.channel, correlationId: id.correlationId }, logger);
  }

  /**
   * Dead-letters a message whose outside effect was applied: the lifecycle record says so first (no delivery claims it
   * again from then on), then the copy goes to the DLQ, for a person to see. If the copy cannot be sent, the message
   * comes back and its next delivery sends it, running nothing.
   */
  async #deadLetterApplied(record: SQSRecord, id: MessageIdentity, logger: Logger, leaseToken: string, why: string): Promise<RecordResult> {
    const reason = `its effect was applied, but its result cannot be kept, so it is not run again: ${why}`;
    try {
      const written = await this.#store.recordDeadLettered(id, { reason, increment: 0, leaseToken, effectApplied: true, now: this.#clock() });
      if (written === 'superseded') {
        logger.warn('its effect was applied, but another delivery has taken the message over');
        return { outcome: 'retry' };
      }
    } catch (error) {
      // The lease holds until it expires; a later delivery then takes the message over: the completion window.
      logger.error('its effect was applied, but the lifecycle record could not say so; delivering again', { error: reasonOf(error) });
      return { outcome: 'retry' };
    }
    await this.#noticeOfRecord(record, id, logger);
    return this.#sentToDeadLetterQueue(record, logger, { reason, attempts: id.attempt, correlationId: id.correlationId });
  }

  /** Sends the copy of a message whose lifecycle record is already terminal; a copy not sent brings the message back. */
  async #sentToDeadLetterQueue(record: SQSRecord, logger: Logger, verdict: Verdict): Promise<RecordResult> {
    try {
      await sendToDeadLetterQueue(this.#clients.sqs, this.#endpoints.deadLetterQueueUrl!, record, verdict);
    } catch (error) {
      logger.error('could not send the DLQ copy; the message comes back for it', { error: reasonOf(error) });
      this.#telemetry.count('failed');
      return { outcome: 'retry' };
    }
    this.#telemetry.count('deadLettered');
    logger.error('message dead-lettered', { reason: verdict.reason });
    return { outcome: 'dead-lettered' };
  }

  #applied(outcome: 'succeeded' | 'duplicate', logger: Logger): RecordResult {
    this.#telemetry.count(outcome === 'duplicate' ? 'duplicates' : 'processed');
    logger.info(outcome === 'duplicate' ? 'duplicate skipped' : 'message applied');
    return { outcome };
  }

  /**
   * Decides what a failure means. The lifecycle record is read first (failures only, so the happy path keeps its
   * one round trip): a message already applied is a duplicate whatever its handler does now, and the record's
   * attempt count, not the receive count, decides between a retry and the DLQ. A redriven message starts a fresh
   * budget from the count at its dead-lettering.
   */
  async #afterFailure(record: SQSRecord, id: MessageIdentity, error: unknown, logger: Logger, attempt: { handlerRan: boolean; leaseToken?: string }): Promise<RecordResult> {
    const reason = reasonOf(error);
    if (!attempt.handlerRan) {
      // The claim itself failed (a throttle, a timeout): nothing ran, so no attempt is counted and no record written.
      if (this.#onLastReceive(id)) {
        return this.#deadLetter(record, id, logger, { reason: `receive limit (${this.#policy.maxReceiveCount}) reached before an attempt could run: ${reason}`, increment: 0 });
      }
      return this.#retryAfterFailure(record, logger, backoffSeconds(this.#policy, id.attempt), reason);
    }
    let prior: LifecycleRecord | undefined;
    let attempts: number;
    // An 'outside' attempt was counted by its claim.
    const increment = attempt.leaseToken ? 0 : 1;
    try {
      prior = await this.#store.get(id.correlationId, id.channel);
      attempts = (prior?.attempts ?? 0) + increment - (prior?.attemptsBeforeRedrive ?? 0);
    } catch (readError) {
      // Without the count the receive count stands in, and the backstop still bounds the retries.
      logger.error('could not read the lifecycle record', { error: reasonOf(readError) });
      attempts = id.attempt;
    }
    if (prior?.status === 'succeeded') return this.#finishOutbox(record, id, logger, prior);
    const written = { increment, leaseToken: attempt.leaseToken, priorHistory: prior?.history } as const;
    const permanent = error instanceof PermanentError ? reason : permanentDynamoFailure(error);
    if (permanent !== undefined) return this.#deadLetter(record, id, logger, { ...written, reason: permanent, attempts });
    if (attempts >= this.#policy.maxAttempts) {
      return this.#deadLetter(record, id, logger, { ...written, reason: `gave up after ${attempts} attempts: ${reason}`, attempts });
    }
    if (this.#onLastReceive(id)) {
      return this.#deadLetter(record, id, logger, {
        ...written,
        reason: `receive limit (${this.#policy.maxReceiveCount}) reached after ${attempts} attempts: ${reason}`,
        attempts,
      });
    }
    try {
      const result = await this.#store.recordFailure(id, { ...written, reason, now: this.#clock() });
      if (result === 'superseded') logger.warn('another delivery applied or took over the message; this one steps back');
    } catch (bookkeepingError) {
      // The record is reported failed either way; the backstop bounds the retries if the count is never written.
      logger.error('could not record the failure', { reason, error: reasonOf(bookkeepingError) });
    }
    return this.#retryAfterFailure(record, logger, backoffSeconds(this.#policy, attempts), reason);
  }

  /** Another delivery holds the lease: come back when it expires, without touching its record or its lease. */
  async #stepBack(record: SQSRecord, id: MessageIdentity, logger: Logger, leaseUntil: number): Promise<RecordResult> {
    if (this.#onLastReceive(id)) {
      return this.#deadLetter(record, id, logger, {
        reason: `receive limit (${this.#policy.maxReceiveCount}) reached while another delivery held the lease`,
        increment: 0,
      });
    }
    const untilExpiry = Math.ceil((leaseUntil - this.#clock()) / 1000);
    const delaySeconds = Math.min(Math.max(1, untilExpiry), SQS_MAX_VISIBILITY_SECONDS - this.#policy.timeoutSeconds);
    logger.info('another delivery holds the lease; stepping back until it expires', { delaySeconds });
    return this.#retryLater(record, logger, delaySeconds);
  }

  #onLastReceive(id: MessageIdentity): boolean {
    // The next receive would be SQS's redrive, which records no reason: this one must decide.
    return id.attempt >= this.#policy.maxReceiveCount;
  }

  #replyOf(outcome: AnyOutcome): unknown {
    if (!this.#policy.reply) return undefined;
    const schema = this.#options.channel.replySchema;
    // A reply that breaks its schema is a handler bug the caller must not receive: it fails the attempt. It is kept
    // as the schema's input, which the caller's SDK parses when it reads it.
    if (!schema) return outcome.reply;
    const reply = onTheWire(schema, outcome.reply);
    if (!reply.success) throw new Error(`the handler's reply breaks the reply schema: ${reply.issues}`);
    return reply.value;
  }

  #retryAfterFailure(record: SQSRecord, logger: Logger, delaySeconds: number, reason: string): Promise<RecordResult> {
    logger.warn('attempt failed; retrying after backoff', { reason, backoffSeconds: delaySeconds });
    this.#telemetry.count('failed');
    return this.#retryLater(record, logger, delaySeconds);
  }

  /** Reports the record failed and sets when it comes back. */
  async #retryLater(record: SQSRecord, logger: Logger, delaySeconds: number): Promise<RecordResult> {
    try {
      await this.#clients.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: this.#endpoints.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: delaySeconds }),
      );
    } catch (error) {
      // The record is reported failed either way; it then returns after the queue's own visibility timeout.
      logger.error('could not set the backoff', { error: reasonOf(error) });
    }
    return { outcome: 'retry', retryAfterSeconds: delaySeconds };
  }

  async #delay(records: readonly { record: SQSRecord; delay: number }[]): Promise<void> {
    for (let index = 0; index < records.length; index += 10) {
      const entries = records.slice(index, index + 10).map(({ record, delay }, offset) => ({ Id: String(offset), ReceiptHandle: record.receiptHandle, VisibilityTimeout: delay }));
      await this.#clients.sqs
        .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.#endpoints.queueUrl, Entries: entries }))
        .catch((error: unknown) => this.#telemetry.logger.error('could not delay the records held behind a failed one', { error: reasonOf(error) }));
    }
  }

  /**
   * Sends the message to the DLQ with its reason, then marks the lifecycle record dead-lettered. If that mark
   * cannot be written, or another delivery has taken the message over meanwhile, the record is reported failed and
   * comes back, so the decision and the mark are made again by whoever holds the record: a message leaves its queue
   * only with a terminal record (a message applied meanwhile is a duplicate). A second DLQ copy carries the same
   * correlation id, so a redrive of both applies it once.
   */
  async #deadLetter(record: SQSRecord, id: MessageIdentity, logger: Logger, attempt: Omit<AttemptRecord, 'now'> & { attempts?: number }): Promise<RecordResult> {
    try {
      await sendToDeadLetterQueue(this.#clients.sqs, this.#endpoints.deadLetterQueueUrl!, record, {
        reason: attempt.reason,
        attempts: attempt.attempts ?? id.attempt,
        correlationId: id.correlationId,
      });
    } catch (error) {
      if (error instanceof DeadLetterCopyTooLarge) return this.#leaveToRedrivePolicy(record, id, logger, attempt, error);
      // Not in the DLQ, so it must not be deleted: report it failed and let SQS deliver it again.
      logger.error('could not dead-letter the message; it stays on the queue', { reason: attempt.reason, error: reasonOf(error) });
      this.#telemetry.count('failed');
      return { outcome: 'retry' };
    }
    try {
      if ((await this.#store.recordDeadLettered(id, { ...attempt, now: this.#clock() })) === 'superseded') {
        if ((await this.#store.get(id.correlationId, id.channel))?.status === 'succeeded') return this.#applied('duplicate', logger);
        logger.warn('a copy is in the DLQ, but another delivery has taken the message over; it comes back for that one to decide');
        return { outcome: 'retry' };
      }
    } catch (error) {
      logger.error('dead-lettered, but the lifecycle record could not say so; delivering again', { error: reasonOf(error) });
      return { outcome: 'retry' };
    }
    this.#telemetry.count('deadLettered');
    logger.error('message dead-lettered', { reason: attempt.reason });
    await this.#noticeOfRecord(record, id, logger);
    return { outcome: 'dead-lettered' };
  }

  /**
   * No DLQ copy can carry the message with its reason (a queue not built by a Channel took it near SQS's limit): the
   * lifecycle record says dead-lettered and why, and the message comes back at once, receive after receive, until the
   * queue's redrive policy moves it whole, as it is.
   */
  async #leaveToRedrivePolicy(record: SQSRecord, id: MessageIdentity, logger: Logger, attempt: Omit<AttemptRecord, 'now'>, cause: DeadLetterCopyTooLarge): Promise<RecordResult> {
    const reason = `${attempt.reason} (${cause.message}: the queue's redrive policy moves it after ${this.#policy.maxReceiveCount} receives)`;
    try {
      await this.#store.recordDeadLettered(id, { ...attempt, reason, now: this.#clock() });
    } catch (error) {
      logger.error('could not record the dead-lettering', { error: reasonOf(error) });
    }
    logger.error('message left to the redrive policy', { reason });
    return this.#retryLater(record, logger, 0);
  }

  #loggerFor(id: MessageIdentity, recordTrace?: RecordTrace): Logger {
    return this.#telemetry.logger.child({ messageId: id.messageId, correlationId: id.correlationId, channel: id.channel, attempt: id.attempt, ...traceKeys(recordTrace) });
  }
}

function identityOf(channel: string, record: SQSRecord): MessageIdentity {
  const correlationId = correlationIdOf(record);
  const sentAt = Number(record.attributes.SentTimestamp);
  return {
    channel,
    messageId: record.messageId,
    correlationId,
    attempt: Number(record.attributes.ApproximateReceiveCount ?? '1'),
    ...flowOf(record.messageAttributes, correlationId),
    ...(Number.isFinite(sentAt) ? { sentAt } : {}),
  };
}

function isFailure(outcome: RecordOutcome): boolean {
  return outcome === 'retry' || outcome === 'skipped-after-group-failure' || outcome === 'cut-off';
}

/** The Lambda handler for a guaranteed channel: `export const handler = guaranteedConsumer({ channel, handle })`. */
export function guaranteedConsumer<
  Schema extends AnySchema,
  ReplySchema extends AnySchema | undefined,
  SendsTo extends Catalog = Record<never, never>,
  PublishesTo extends TopicCatalog = Record<never, never>,
>(options: GuaranteedConsumerOptions<Schema, ReplySchema, SendsTo, PublishesTo>) {
  let consumer: GuaranteedConsumer<Schema, ReplySchema, SendsTo, PublishesTo> | undefined;
  return async (event: SQSEvent, context?: Context): Promise<BatchResponse> => {
    consumer ??= new GuaranteedConsumer(options);
    return consumer.processBatch(event, context);
  };
}
