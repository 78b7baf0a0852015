import { Duration, Validations } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { MetricType } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunctionEnv, resolvePolicy, SDK_ATTRIBUTE_BYTES, SQS_MAX_MESSAGE_BYTES, type FireAndForgetPolicy, type GuaranteedPolicy } from '../policy/index.ts';
import type { ChannelBaseProps } from './channel-base.ts';
import { ConsumerFunction } from './consumer-function.ts';
import { grantByKeyPrefix, ITEM_ACTIONS } from './key-grants.ts';
import type { LifecycleTable } from './lifecycle-table.ts';

export interface ChannelProps extends ChannelBaseProps {
  /** Path of the consumer's handler module (exporting `handler`), built on functions/runtime. */
  readonly entry: string;
  /** Where a guaranteed consumer keeps its lifecycle records; a fire-and-forget one keeps none. */
  readonly lifecycleTable: LifecycleTable;
  /**
   * What the consumer may do on the state table, by key prefix: the effects its handler writes (or reads). Nothing
   * beyond: its role has no other grant on the table. @default - no access to the state table
   */
  readonly stateAccess?: StateAccess;
}

/** Key prefixes of the state table a consumer reads or writes; `''` covers every key. */
export interface StateAccess {
  readonly read?: readonly string[];
  readonly write?: readonly string[];
}

/**
 * A queue-backed channel: a guaranteed or fire-and-forget policy turned into a queue (and, when guaranteed, a DLQ),
 * a consumer function and the event source mapping between them.
 *
 * Guaranteed: DLQ always (14-day retention, longer than the queue's), redrive after maxReceiveCount, visibility
 * at least 6 × the function's timeout + the batching window. Fire-and-forget: one queue with the shortest
 * retention that covers the time to live and no DLQ. Both: SSE, HTTPS-only queue policies, partial batch
 * responses always on, concurrency capped on the mapping, least-privilege grants.
 */
export class Channel extends Construct {
  public readonly name: string;
  public readonly policy: GuaranteedPolicy | FireAndForgetPolicy;
  public readonly queue: Queue;
  /** Present for guaranteed channels only: a fire-and-forget message is worthless once it fails. */
  public readonly deadLetterQueue?: Queue;
  public readonly consumer: ConsumerFunction;

  public constructor(scope: Construct, id: string, props: ChannelProps) {
    super(scope, id);
    const { definition } = props;
    // Resolved again here so that a hand-built definition is held to the same rules as one from defineChannel.
    const policy = resolvePolicy(definition.name, definition.policy);
    if (policy.kind === 'request-response') {
      throw new Error(`${definition.name}: a request-response channel is deployed with Responder, not Channel`);
    }
    this.name = definition.name;
    this.policy = policy;

    const fifo = policy.kind === 'guaranteed' && policy.fifo;
    if (policy.kind === 'guaranteed') {
      this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.seconds(policy.dlqRetentionPeriodSeconds),
        maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
        ...(fifo ? { fifo: true } : {}),
      });
    }
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(policy.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(policy.retentionPeriodSeconds),
      // The channel's limit, enforced by SQS for senders behind the SDK's back too; the DLQ takes SQS's whole 1 MiB,
      // which leaves every copy room for its reason (a policy rule keeps that room).
      maxMessageSizeBytes: policy.maxMessageBytes + SDK_ATTRIBUTE_BYTES,
      ...(fifo ? { fifo: true, contentBasedDeduplication: false } : {}),
      ...(this.deadLetterQueue && policy.kind === 'guaranteed'
        ? { deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: policy.maxReceiveCount } }
        : {}),
    });

    if (this.deadLetterQueue) {
      Validations.of(this.deadLetterQueue).acknowledge({
        id: 'cdk-validator-cfnguard::sqs_dlq_check',
        reason: "This queue is the channel's DLQ: its source queue's redrive policy points here, and a DLQ of a DLQ would only move the problem.",
      });
    } else {
      const reason = 'Fire-and-forget by design: a message is worthless once it fails or expires, so it is dropped, never dead-lettered.';
      Validations.of(this.queue).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason }, { id: 'cdk-validator-cfnguard::sqs_dlq_check', reason });
    }

    this.consumer = new ConsumerFunction(this, 'Consumer', {
      channel: definition.name,
      policy,
      entry: props.entry,
      timeoutSeconds: policy.timeoutSeconds,
      memorySizeMb: policy.memorySizeMb,
      stateTableName: props.stateTable.tableName,
      environment: {
        [FunctionEnv.queueUrl]: this.queue.queueUrl,
        ...(this.deadLetterQueue ? { [FunctionEnv.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl } : {}),
        ...(policy.kind === 'guaranteed' ? { [FunctionEnv.lifecycleTableName]: props.lifecycleTable.tableName } : {}),
      },
    });
    this.consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: policy.batchSize,
        maxBatchingWindow: policy.maxBatchingWindowSeconds > 0 ? Duration.seconds(policy.maxBatchingWindowSeconds) : undefined,
        maxConcurrency: policy.maxConcurrency,
        ...(policy.provisionedPollers
          ? { provisionedPollerConfig: { minimumPollers: policy.provisionedPollers.minimum, maximumPollers: policy.provisionedPollers.maximum } }
          : {}),
        // The mapping's own metrics (events polled, filtered, invoked, failed, deleted), for what the queue cannot say.
        metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
        // The runtime always answers with a batch response; without this flag Lambda would ignore it.
        reportBatchItemFailures: true,
      }),
    );

    // The event source grants receive, delete, visibility changes and attribute reads on the queue.
    this.deadLetterQueue?.grantSendMessages(this.consumer);
    // Least privilege: a guaranteed consumer reaches its own channel's lifecycle records and nothing else of that table,
    // so no other consumer can read, rewrite or delete them; the state table only where the app grants it.
    if (policy.kind === 'guaranteed') props.lifecycleTable.grantRecords(this.consumer, definition.name);
    const { read = [], write = [] } = props.stateAccess ?? {};
    if (read.length > 0) grantByKeyPrefix(props.stateTable.table, this.consumer, ITEM_ACTIONS.read, read);
    if (write.length > 0) grantByKeyPrefix(props.stateTable.table, this.consumer, ITEM_ACTIONS.write, write);
  }

  /** Lets a sender (a function, a role) put messages on this channel. */
  public grantSend(grantee: Parameters<IQueue['grantSendMessages']>[0]) {
    return this.queue.grantSendMessages(grantee);
  }
}
