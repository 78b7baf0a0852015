import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
  type IAlarmAction,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_METRICS_NAMESPACE, longestHealthyWaitSeconds } from '../policy/index.ts';
import type { Channel } from './channel.ts';
import type { EventTopic } from './event-topic.ts';
import type { Responder } from './responder.ts';
import { forLocalStack } from './target.ts';

/** CloudWatch's smallest useful period for SQS metrics, which are published once a minute. */
const MINIMUM_AGE_THRESHOLD_SECONDS = 60;

export interface OperationsProps {
  /** The queue-backed channels to watch. */
  readonly channels: readonly Channel[];
  /** The request-response channels to watch. */
  readonly responders?: readonly Responder[];
  /** The topics to watch: each one's deliveries SNS could not make. */
  readonly topics?: readonly EventTopic[];
  /**
   * Where alarms send their notifications: an existing topic, or `'create'` for a new KMS-encrypted one.
   * @default - alarms without actions
   */
  readonly alarmTopic?: ITopic | 'create';
  /** @default 'DeliveryPolicies' */
  readonly dashboardName?: string;
}

/**
 * The alarms that say messages are piling up, and one dashboard. Per queue-backed channel: DLQ depth above 0
 * (a message gave up), and the age of the oldest message beyond what the policy allows a healthy message:
 * for guaranteed channels every backoff before the last attempt plus one visibility timeout, for
 * fire-and-forget the time to live (an older message is already worthless). Per responder: primary errors,
 * and any fallback answer (the primary is failing or slow).
 */
export class Operations extends Construct {
  public readonly alarms: Alarm[] = [];
  public readonly alarmTopic?: ITopic;
  /** Absent when synthesized for LocalStack, which has no dashboards. */
  public readonly dashboard?: Dashboard;

  public constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.alarmTopic = props.alarmTopic === 'create' ? alarmTopic(this) : props.alarmTopic;
    const action: IAlarmAction | undefined = this.alarmTopic ? new SnsAction(this.alarmTopic) : undefined;
    this.dashboard = forLocalStack(this) ? undefined : new Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName ?? 'DeliveryPolicies' });

    for (const channel of props.channels) {
      const ageThreshold = Math.max(
        MINIMUM_AGE_THRESHOLD_SECONDS,
        channel.policy.kind === 'guaranteed' ? longestHealthyWaitSeconds(channel.policy) : channel.policy.timeToLiveSeconds,
      );
      const age = channel.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' });
      this.#add(
        new Alarm(this, `${channel.name}OldestMessageAge`, {
          alarmDescription: `${channel.name}: the oldest message has waited longer than a healthy one can (${ageThreshold} s)`,
          metric: age,
          threshold: ageThreshold,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
        action,
      );
      const widgets = [age, channel.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) })];
      if (channel.policy.kind === 'guaranteed') {
        // SQS's age leaves out messages received more than three times: the retries that are stuck. The runtime's gauge
        // sees every message it receives.
        const seen = runtimeMetric(channel.name, 'oldestMessageAgeSeconds', 'Maximum');
        this.#add(
          new Alarm(this, `${channel.name}StuckRetries`, {
            alarmDescription: `${channel.name}: a message the consumer keeps receiving has waited longer than a healthy one can (${ageThreshold} s); see its story with "msg status"`,
            metric: seen,
            threshold: ageThreshold,
            evaluationPeriods: 1,
            comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
          action,
        );
        widgets.push(seen);
      }
      if (channel.deadLetterQueue) {
        widgets.push(this.#anyMessageIn(channel.deadLetterQueue, `${channel.name}DeadLetters`, `${channel.name}: messages are in the DLQ; read them with "msg dlq peek ${channel.name}"`, action));
      }
      this.dashboard?.addWidgets(
        new GraphWidget({ title: `${channel.name}: queue`, left: widgets }),
        new GraphWidget({ title: `${channel.name}: consumer`, left: [channel.consumer.metricErrors(), channel.consumer.metricThrottles()], right: [channel.consumer.metricDuration()] }),
      );
    }

    for (const responder of props.responders ?? []) {
      const errors = responder.primary.metricErrors({ period: Duration.minutes(1) });
      this.#add(
        new Alarm(this, `${responder.name}PrimaryErrors`, {
          alarmDescription: `${responder.name}: the primary responder is failing`,
          metric: errors,
          threshold: 0,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
        action,
      );
      const left = [errors, responder.primary.metricDuration()];
      if (responder.fallback) {
        // Answers after a failover, which the caller surely got: the fallback's invocations would count the hedges too,
        // whose answers the caller throws away when the primary answers first.
        const fallbackAnswers = runtimeMetric(responder.name, 'failoverAnswers', 'Sum');
        this.#add(
          new Alarm(this, `${responder.name}FallbackAnswering`, {
            alarmDescription: `${responder.name}: callers are being answered by the fallback, their primary having failed or been too slow`,
            metric: fallbackAnswers,
            threshold: 0,
            evaluationPeriods: 1,
            comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
          action,
        );
        left.push(fallbackAnswers);
      }
      this.dashboard?.addWidgets(new GraphWidget({ title: `${responder.name}: responders`, left }));
    }

    for (const topic of props.topics ?? []) {
      const description = `${topic.name}: SNS could not deliver events to a subscriber; they are in the queue of the ${topic.name}UndeliveredQueueUrl output ("msg stats" counts them)`;
      const depth = this.#anyMessageIn(topic.undelivered, `${topic.name}Undelivered`, description, action);
      this.dashboard?.addWidgets(new GraphWidget({ title: `${topic.name}: topic`, left: [topic.topic.metricNumberOfMessagesPublished(), topic.topic.metricNumberOfNotificationsFailed(), depth] }));
    }
  }

  /** An alarm on any message in a queue that holds only what failed (a DLQ); answers the depth metric, for the dashboard. */
  #anyMessageIn(queue: IQueue, id: string, description: string, action: IAlarmAction | undefined): Metric {
    const depth = queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' });
    this.#add(
      new Alarm(this, id, {
        alarmDescription: description,
        metric: depth,
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      action,
    );
    return depth;
  }

  #add(alarm: Alarm, action: IAlarmAction | undefined): void {
    if (action) alarm.addAlarmAction(action);
    this.alarms.push(alarm);
  }
}

/** A metric the consumer runtime publishes (functions/runtime/telemetry.ts), per minute. */
function runtimeMetric(channel: string, metricName: string, statistic: 'Maximum' | 'Sum'): Metric {
  return new Metric({ namespace: DEFAULT_METRICS_NAMESPACE, metricName, dimensionsMap: { service: channel, channel }, statistic, period: Duration.minutes(1) });
}

/**
 * The topic alarms notify: encrypted with a key of its own, over HTTPS only, and usable by CloudWatch, which publishes
 * as its service principal, for this account's alarms only. Without both grants CloudWatch could not publish to the
 * topic, nor encrypt what it publishes, and every notification would be dropped.
 */
function alarmTopic(scope: Construct): Topic {
  const key = alarmTopicKey(scope);
  const topic = new Topic(scope, 'AlarmTopic', { masterKey: key, enforceSSL: true });
  const { account, region, partition } = Stack.of(scope);
  const fromThisAccountsAlarms = {
    StringEquals: { 'aws:SourceAccount': account },
    ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
  };
  const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
  topic.addToResourcePolicy(new PolicyStatement({ principals: [cloudWatch], actions: ['sns:Publish'], resources: [topic.topicArn], conditions: fromThisAccountsAlarms }));
  // AWS's documented statement for CloudWatch alarms and an SNS topic encrypted with a customer managed key.
  key.addToResourcePolicy(new PolicyStatement({ principals: [cloudWatch], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: fromThisAccountsAlarms }));
  return topic;
}

/**
 * The alarm topic's key: rotated, and granting use of itself only to AWS services (Control Tower's CT.KMS.PR.3),
 * so a principal with kms:CreateGrant cannot hand the key to someone else.
 */
function alarmTopicKey(scope: Construct): Key {
  const key = new Key(scope, 'AlarmTopicKey', { enableKeyRotation: true });
  key.addToResourcePolicy(
    new PolicyStatement({
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
  return key;
}
