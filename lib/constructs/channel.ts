import { Duration, Validations } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { MetricType } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunctionEnv, resolvePolicy, SDK_ATTRIBUTE_BYTES, SQS_MAX_MESSAGE_BYTES, type FireAndForgetPolicy, type GuaranteedPolicy } from '../policy/index.ts';
import type { ChannelBaseProps } from './channel-base.ts';
import { ConsumerFunction } from './consumer-function.ts';

export interface ChannelProps extends ChannelBaseProps {
  /** Path of the consumer's handler module (exporting `handler`), built on functions/runtime. */
  readonly entry: string;
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
    // Guaranteed consumers read lifecycle records in their conditions; fire-and-forget ones only write effects.
    if (policy.kind === 'guaranteed') props.stateTable.table.grantReadWriteData(this.consumer);
    else props.stateTable.table.grantWriteData(this.consumer);
  }

  /** Lets a sender (a function, a role) put messages on this channel. */
  public grantSend(grantee: Parameters<IQueue['grantSendMessages']>[0]) {
    return this.queue.grantSendMessages(grantee);
  }
}
