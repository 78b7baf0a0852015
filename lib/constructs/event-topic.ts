import { Duration, Validations } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { CfnSubscription, Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SQS_MAX_MESSAGE_BYTES, SQS_MAX_RETENTION_SECONDS, type EventFilter, type TopicDefinition } from '../policy/index.ts';
import type { Channel } from './channel.ts';

export interface EventTopicProps {
  /** The topic: name, schema and FIFO (defineTopic's result). */
  readonly definition: TopicDefinition;
}

/**
 * A topic turned into infrastructure: an SNS topic (FIFO where the definition says so), encrypted, taking HTTPS
 * only, and a queue for the deliveries SNS cannot make, kept 14 days with the reason SNS gives, where an SNS
 * subscription would otherwise drop them after its retries. Channels subscribe with raw delivery, so that their
 * consumers read an event as they read a message sent to them, and with their filter over the event's body.
 */
export class EventTopic extends Construct {
  public readonly name: string;
  public readonly definition: TopicDefinition;
  public readonly topic: Topic;
  /** The subscriptions' dead-letter queue: deliveries SNS gave up on (a queue gone, a policy refusing, a size). */
  public readonly undelivered: Queue;

  public constructor(scope: Construct, id: string, props: EventTopicProps) {
    super(scope, id);
    const { definition } = props;
    this.name = definition.name;
    this.definition = definition;
    this.topic = new Topic(this, 'Topic', {
      // AWS's managed key for SNS: publishers in the account need no key grant, and SQS subscriptions are delivered.
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
      ...(definition.fifo ? { fifo: true, contentBasedDeduplication: false } : {}),
    });
    this.undelivered = new Queue(this, 'Undelivered', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(SQS_MAX_RETENTION_SECONDS),
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      ...(definition.fifo ? { fifo: true } : {}),
    });
    const reason = "This queue is the topic's subscription DLQ: SNS moves here what it could not deliver, and a DLQ of a DLQ would only move the problem.";
    Validations.of(this.undelivered).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason }, { id: 'cdk-validator-cfnguard::sqs_dlq_check', reason });
  }

  /**
   * Delivers the topic's events to a channel's queue: raw, filtered by the channel's filter, undeliverable ones kept.
   * The queue's policy lets this topic send, and nothing else (aws:SourceArn).
   */
  public subscribe(channel: Channel, filter?: EventFilter<unknown>): void {
    const subscription = this.topic.addSubscription(new SqsSubscription(channel.queue, { rawMessageDelivery: true, deadLetterQueue: this.undelivered }));
    if (filter !== undefined) {
      const resource = subscription.node.defaultChild as CfnSubscription;
      resource.filterPolicy = filter;
      resource.filterPolicyScope = 'MessageBody';
    }
  }

  /** Lets a publisher (a function, a role) publish to this topic. */
  public grantPublish(grantee: IGrantable) {
    return this.topic.grantPublish(grantee);
  }
}
