import { randomUUID } from 'node:crypto';
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

export interface SqsEventSourceProps {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** ScalingConfig.MaximumConcurrency, or the local default when the mapping sets none. */
  readonly maxConcurrency: number;
  readonly reportBatchItemFailures: boolean;
}

/** SQS allows at most 10 messages per receive; larger batches are gathered over several receives. */
const SQS_MAX_RECEIVE = 10;
/** Long polling as Lambda does it; short enough that stopping is prompt. */
const LONG_POLL_SECONDS = 5;

/**
 * Polls one queue for one function as Lambda's event source mapping does: long polling, batches up to
 * BatchSize gathered within the batching window, at most MaximumConcurrency invocations at once. After an
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
  #pollers: Promise<void>[] = [];
  #invocations = 0;

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
      ScalingConfig: { MaximumConcurrency: this.#props.maxConcurrency },
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

  public start(): void {
    this.#pollers = Array.from({ length: this.#props.maxConcurrency }, () => this.#poll());
  }

  public async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#pollers);
  }

  async #poll(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const messages = await this.#gatherBatch();
        if (messages.length > 0) await this.#deliver(messages);
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
    const messages = await this.#receive(Math.min(SQS_MAX_RECEIVE, batchSize), LONG_POLL_SECONDS);
    if (messages.length === 0 || maxBatchingWindowSeconds === 0) return messages;
    const windowEnds = Date.now() + maxBatchingWindowSeconds * 1000;
    while (messages.length < batchSize && Date.now() < windowEnds && !this.#abort.signal.aborted) {
      const waitSeconds = Math.max(0, Math.min(LONG_POLL_SECONDS, Math.floor((windowEnds - Date.now()) / 1000)));
      const more = await this.#receive(Math.min(SQS_MAX_RECEIVE, batchSize - messages.length), waitSeconds);
      messages.push(...more);
      if (more.length === 0 && waitSeconds === 0) await sleep(Math.max(0, windowEnds - Date.now()), this.#abort.signal);
    }
    return messages;
  }

  async #receive(count: number, waitSeconds: number): Promise<Message[]> {
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
    return Messages;
  }

  async #deliver(messages: Message[]): Promise<void> {
    const event = { Records: messages.map((message) => toRecord(message, this.#props.queueArn)) };
    let outcome;
    try {
      this.#invocations += 1;
      outcome = await this.#fn.invoke(event);
    } catch (error) {
      // Throttled: leave the batch invisible until its timeout, as Lambda's poller does.
      if (error instanceof TooManyRequestsError) return;
      throw error;
    }
    if (!outcome.ok) return;
    const failed = this.#props.reportBatchItemFailures ? failedIds(outcome.result, messages) : new Set<string>();
    const done = messages.filter((message) => !failed.has(message.MessageId!));
    if (done.length === 0) return;
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
