import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { LOCAL_REGION } from './emulators.ts';
import { functionArn } from './intrinsics.ts';
import { TooManyRequestsError, type LocalFunction } from './local-function.ts';
import type { UsageMeter } from './meter.ts';

export interface SqsEventSourceProps {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** ScalingConfig.MaximumConcurrency, if the mapping sets one. */
  readonly maxConcurrency?: number;
  /** ProvisionedPollerConfig, if the mapping is in provisioned mode. */
  readonly provisionedPollers?: { readonly minimum: number; readonly maximum: number };
  readonly reportBatchItemFailures: boolean;
  /** Where Lambda's own receives and deletes are counted, if anywhere. */
  readonly meter?: UsageMeter;
}

/** SQS allows at most 10 messages per receive; larger batches are gathered over several receives. */
const SQS_MAX_RECEIVE = 10;
/** Long polling as Lambda does it; short enough that stopping is prompt. */
export const LONG_POLL_SECONDS = 5;
/** What a turn whose receive failed resolves to (see SqsEventSource.#receiving). */
const FAILED_TURN = -1;
/** Lambda starts a standard-mode mapping at five concurrent batches… */
const INITIAL_CONCURRENCY = 5;
/**
 * …and, while messages remain, adds up to 300 a minute: one every 200 ms, kept at that rate here (no time
 * compression; a local function reaches its limit of 10 within a second). Provisioned mode scales three times faster.
 */
const GROWTH_INTERVAL_MS = 60_000 / 300;
/** Each provisioned poller runs up to ten invocations at once. */
const INVOCATIONS_PER_PROVISIONED_POLLER = 10;

/**
 * Polls one queue for one function as Lambda's event source mapping does: long polling, batches up to
 * BatchSize gathered within the batching window; five batches at once to begin with, one more every 200 ms while
 * receives come back full, back to five when they come back empty; never more than MaximumConcurrency, nor than the
 * function may run at once, so that no batch is throttled (in AWS the account's 1,000 is that limit). After an
 * invocation: without ReportBatchItemFailures a success deletes the batch; with it, every record not listed
 * in batchItemFailures is deleted (a malformed response counts as a failure of the whole batch); a thrown
 * error or a timeout deletes nothing, so the batch reappears after its visibility timeout and the emulator's
 * receive count drives the redrive to the DLQ.
 */
export class SqsEventSource {
  /** The mapping's id, as ListEventSourceMappings reports it. */
  public readonly uuid = randomUUID();
  readonly #sqs: SQSClient;
  readonly #fn: LocalFunction;
  readonly #props: SqsEventSourceProps;
  readonly #abort = new AbortController();
  readonly #pollers = new Set<Promise<void>>();
  /** Pollers running and not retiring, counted synchronously: pollers deciding together must see each other. */
  #active = 0;
  #invocations = 0;
  #records = 0;
  #throttled = 0;
  #emptyReceives = 0;
  #emptyReceivesCutShort = 0;
  #peakPollers = 0;
  #lastGrowth = 0;
  /**
   * The receive waiting on this mapping's quiet queue, while one is. fauxqs answers every receive waiting on a queue
   * when one message comes, all but one of them empty, where SQS keeps them waiting: with five pollers that was four
   * needless round trips per message, on the thread that serves the queues, at the very moment a message is due (the
   * three sends of bench:policies were acknowledged in 7 ms instead of 2.6). So on a quiet queue the pollers take
   * turns to receive; once receives of several messages come back full, they receive at once, as Lambda's pollers do.
   * The turn covers a batch's first receive only: a batching window's further receives wait beside the next turn.
   * It resolves to how many messages the turn took, or FAILED_TURN.
   */
  #receiving: Promise<number> | undefined;
  /** Whether the last receive of a batch showed a queue with no more than it took. */
  #quiet = true;

  public constructor(sqs: SQSClient, fn: LocalFunction, props: SqsEventSourceProps) {
    this.#sqs = sqs;
    this.#fn = fn;
    this.#props = props;
  }

  /** The mapping as Lambda's API describes one. */
  public describe() {
    return {
      UUID: this.uuid,
      EventSourceArn: this.#props.queueArn,
      FunctionArn: functionArn(this.#fn.props.name),
      BatchSize: this.#props.batchSize,
      MaximumBatchingWindowInSeconds: this.#props.maxBatchingWindowSeconds,
      ...(this.#props.maxConcurrency ? { ScalingConfig: { MaximumConcurrency: this.#props.maxConcurrency } } : {}),
      ...(this.#props.provisionedPollers
        ? { ProvisionedPollerConfig: { MinimumPollers: this.#props.provisionedPollers.minimum, MaximumPollers: this.#props.provisionedPollers.maximum } }
        : {}),
      FunctionResponseTypes: this.#props.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
      State: 'Enabled',
    };
  }

  public get functionName(): string {
    return this.#fn.props.name;
  }

  public get invocations(): number {
    return this.#invocations;
  }

  /** Messages given to the function, in all its batches: receives after the first included. */
  public get records(): number {
    return this.#records;
  }

  /** The queue it polls. */
  public get queueArn(): string {
    return this.#props.queueArn;
  }

  /** Batches being received or processed at once now. */
  public get pollers(): number {
    return this.#active;
  }

  /** Batches received or processed at once, at most, since the start. */
  public get peakPollers(): number {
    return this.#peakPollers;
  }

  /** Receives that came back empty: on a quiet queue, one long poll running out every LONG_POLL_SECONDS. */
  public get emptyReceives(): number {
    return this.#emptyReceives;
  }

  /**
   * Empty receives that came back before their long poll ran out: the emulator answering a waiting receive on another
   * poller's message, which SQS does not do. The pollers' turns on a quiet queue keep these away.
   */
  public get emptyReceivesCutShort(): number {
    return this.#emptyReceivesCutShort;
  }

  /** Batches the function refused for want of an instance: none, unless something else holds its instances. */
  public get throttled(): number {
    return this.#throttled;
  }

  /** The most batches at once: MaximumConcurrency (or the provisioned pollers' capacity) within the function's limit. */
  get #ceiling(): number {
    const { maxConcurrency, provisionedPollers } = this.#props;
    const mapping = provisionedPollers ? provisionedPollers.maximum * INVOCATIONS_PER_PROVISIONED_POLLER : (maxConcurrency ?? Number.POSITIVE_INFINITY);
    return Math.min(mapping, this.#fn.props.concurrencyLimit);
  }

  /** Where scaling starts, and what it falls back to when the queue is quiet. */
  get #floor(): number {
    const { provisionedPollers } = this.#props;
    return Math.min(this.#ceiling, provisionedPollers ? provisionedPollers.minimum * INVOCATIONS_PER_PROVISIONED_POLLER : INITIAL_CONCURRENCY);
  }

  public start(): void {
    for (let index = 0; index < this.#floor; index += 1) this.#addPoller();
  }

  public async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#pollers);
  }

  #addPoller(): void {
    this.#active += 1;
    this.#peakPollers = Math.max(this.#peakPollers, this.#active);
    const poller = this.#poll();
    this.#pollers.add(poller);
    void poller.finally(() => this.#pollers.delete(poller));
  }

  /** Messages remain (a receive came back full): one more poller, at Lambda's pace, up to the ceiling. */
  #grow(): void {
    const interval = GROWTH_INTERVAL_MS / (this.#props.provisionedPollers ? 3 : 1);
    if (this.#active >= this.#ceiling || Date.now() - this.#lastGrowth < interval || this.#abort.signal.aborted) return;
    this.#lastGrowth = Date.now();
    this.#addPoller();
  }

  async #poll(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const messages = await this.#gatherBatch();
        if (messages.length === 0) {
          // A quiet queue: the pollers added under load retire, down to the floor.
          if (this.#active > this.#floor) {
            this.#active -= 1;
            return;
          }
          continue;
        }
        if (messages.length >= Math.min(SQS_MAX_RECEIVE, this.#props.batchSize)) this.#grow();
        await this.#deliver(messages);
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        // An emulator hiccup must not end the poller; Lambda's pollers retry too.
        console.error(`[local-cloud] ${this.#fn.props.name}: polling failed: ${(error as Error).message}`);
        await sleep(500, this.#abort.signal);
      }
    }
  }

  async #gatherBatch(): Promise<Message[]> {
    const { batchSize, maxBatchingWindowSeconds } = this.#props;
    const messages = await this.#receiveFirst(Math.min(SQS_MAX_RECEIVE, batchSize));
    if (messages.length === 0 || maxBatchingWindowSeconds === 0) return messages;
    const windowEnds = Date.now() + maxBatchingWindowSeconds * 1000;
    while (messages.length < batchSize && Date.now() < windowEnds && !this.#abort.signal.aborted) {
      const waitSeconds = Math.max(0, Math.min(LONG_POLL_SECONDS, Math.floor((windowEnds - Date.now()) / 1000)));
      // Messages already gathered are delivered even if a later receive fails: dropped, they would wait out their
      // visibility timeout with a receive counted against them.
      const more = await this.#receive(Math.min(SQS_MAX_RECEIVE, batchSize - messages.length), waitSeconds).catch(() => undefined);
      if (!more) break;
      messages.push(...more);
      if (more.length === 0 && waitSeconds === 0) await sleep(Math.max(0, windowEnds - Date.now()), this.#abort.signal);
    }
    return messages;
  }

  /**
   * A batch's first receive: on a quiet queue once no other poller of the mapping is receiving (see #receiving). A turn
   * that came back empty is every waiting poller's empty receive too, so that the pollers added under load retire
   * together. A receive of one message comes back full whether more wait or not, so batches of one always take turns.
   */
  async #receiveFirst(count: number): Promise<Message[]> {
    while (this.#quiet && this.#receiving) {
      // A failed turn tells nothing of the queue: the next poller takes its turn.
      if ((await this.#receiving) === 0 || this.#abort.signal.aborted) return [];
    }
    const receive = this.#receive(count, LONG_POLL_SECONDS);
    // Quiet here means no turn is in flight (the loop above), so this receive is the turn.
    const takesTurn = this.#quiet;
    if (takesTurn) this.#receiving = receive.then((messages) => messages.length, () => FAILED_TURN);
    try {
      const messages = await receive;
      this.#quiet = count === 1 || messages.length < count;
      return messages;
    } finally {
      if (takesTurn) this.#receiving = undefined;
    }
  }

  async #receive(count: number, waitSeconds: number): Promise<Message[]> {
    const started = performance.now();
    const { Messages = [] } = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#props.queueUrl,
        MaxNumberOfMessages: count,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.#abort.signal },
    );
    if (Messages.length === 0) {
      this.#emptyReceives += 1;
      // A long poll that ran out took its whole wait (a timer may fire a little early, hence the margin).
      if (performance.now() - started < waitSeconds * 900) this.#emptyReceivesCutShort += 1;
    }
    // An empty receive is billed too, but by the hour the mapping polls, not by the message.
    this.#props.meter?.sqsRequest(Messages.length > 0 ? 'ReceiveMessage' : 'ReceiveMessage (empty)');
    return Messages;
  }

  async #deliver(messages: Message[]): Promise<void> {
    const event = { Records: messages.map((message) => toRecord(message, this.#props.queueArn)) };
    let outcome;
    try {
      this.#invocations += 1;
      this.#records += messages.length;
      outcome = await this.#fn.invoke(event);
    } catch (error) {
      // Throttled: leave the batch invisible until its timeout, as Lambda's poller does.
      if (error instanceof TooManyRequestsError) {
        this.#throttled += 1;
        return;
      }
      throw error;
    }
    if (!outcome.ok) return;
    const failed = this.#props.reportBatchItemFailures ? failedIds(outcome.result, messages) : new Set<string>();
    const done = messages.filter((message) => !failed.has(message.MessageId!));
    if (done.length === 0) return;
    this.#props.meter?.sqsRequest('DeleteMessageBatch');
    await this.#sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.#props.queueUrl,
        Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
      }),
    );
  }
}

/**
 * The records a partial batch response reports failed. Lambda treats a response it cannot read, or one that
 * names a record not in the batch, as the whole batch failing; so does this.
 */
function failedIds(response: unknown, messages: Message[]): Set<string> {
  const all = new Set(messages.map((message) => message.MessageId!));
  if (response === null || response === undefined) return new Set();
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return all;
  const ids = failures.map((failure) => (failure as { itemIdentifier?: unknown })?.itemIdentifier);
  if (ids.some((id) => typeof id !== 'string' || !all.has(id))) return all;
  return new Set(ids as string[]);
}

/** Lambda's SQS record shape. */
export function toRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.MessageGroupId ? { MessageGroupId: attributes.MessageGroupId } : {}),
      ...(attributes.MessageDeduplicationId ? { MessageDeduplicationId: attributes.MessageDeduplicationId } : {}),
      ...(attributes.SequenceNumber ? { SequenceNumber: attributes.SequenceNumber } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
          ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}

/** Waits, or less if the mapping stops; timers/promises removes its abort listener either way. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}
