import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { OutputKey, type PolicyKind } from '../policy/index.ts';
import type { MessagingClient } from './client.ts';
import { queueCounts, queueDepth } from './dead-letters.ts';

/** A queue-backed channel's backlog as SQS counts it (approximate, as every SQS count is). */
export interface ChannelStats {
  readonly channel: string;
  readonly policy: PolicyKind;
  /** Messages waiting to be received. */
  readonly waiting: number;
  /** Received by a consumer and not yet deleted: being handled, or hidden until their backoff ends. */
  readonly inFlight: number;
  /** Sent with a delay that has not passed. */
  readonly delayed: number;
  /** Messages in the DLQ; absent for fire-and-forget channels, which have none. */
  readonly deadLetters?: number;
  /**
   * The oldest waiting message's age, from CloudWatch's ApproximateAgeOfOldestMessage (SQS's API does not tell it):
   * the highest in the last five minutes. Absent on the local cloud, which has no CloudWatch, and when SQS has
   * published no datapoint lately (an idle queue).
   */
  readonly oldestMessageAgeSeconds?: number;
}

/** Every queue-backed channel's counts, read in parallel; request-response channels have no queue and are left out. */
export async function channelStats(client: MessagingClient): Promise<ChannelStats[]> {
  const queued = Object.values(client.channels).filter((channel) => channel.policy.kind !== 'request-response');
  return Promise.all(
    queued.map(async (channel) => {
      const queueUrl = client.output(OutputKey.queueUrl(channel.name));
      const [[waiting, inFlight, delayed], deadLetters, oldestMessageAgeSeconds] = await Promise.all([
        queueCounts(client.sqs, queueUrl),
        channel.policy.kind === 'guaranteed' ? queueDepth(client.sqs, client.output(OutputKey.deadLetterQueueUrl(channel.name)), ['ApproximateNumberOfMessages']) : undefined,
        oldestMessageAge(client, queueUrl),
      ]);
      return {
        channel: channel.name,
        policy: channel.policy.kind,
        waiting: waiting!,
        inFlight: inFlight!,
        delayed: delayed!,
        ...(deadLetters === undefined ? {} : { deadLetters }),
        ...(oldestMessageAgeSeconds === undefined ? {} : { oldestMessageAgeSeconds }),
      };
    }),
  );
}

/** A topic's subscribers and the deliveries SNS could not make to them. */
export interface TopicStats {
  readonly topic: string;
  /** The channels of the catalog subscribed to it. */
  readonly subscribers: string[];
  /** Events SNS gave up delivering to a subscriber, kept in the topic's subscription DLQ. */
  readonly undelivered: number;
}

/** Every topic of the client's catalog, with its subscribers and its undelivered count. */
export async function topicStats(client: MessagingClient): Promise<TopicStats[]> {
  return Promise.all(
    Object.values(client.topics).map(async (topic) => ({
      topic: topic.name,
      subscribers: Object.values(client.channels).filter((channel) => channel.subscription?.topic === topic.name).map((channel) => channel.name),
      undelivered: await queueDepth(client.sqs, client.output(OutputKey.undeliveredQueueUrl(topic.name))),
    })),
  );
}

async function oldestMessageAge(client: MessagingClient, queueUrl: string): Promise<number | undefined> {
  if (!client.cloudWatch) return undefined;
  const now = Date.now();
  const { Datapoints = [] } = await client.cloudWatch.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: queueUrl.split('/').pop()! }],
      StartTime: new Date(now - 5 * 60_000),
      EndTime: new Date(now),
      Period: 60,
      Statistics: ['Maximum'],
    }),
  );
  const maxima = Datapoints.map((point) => point.Maximum).filter((value) => value !== undefined);
  return maxima.length > 0 ? Math.max(...maxima) : undefined;
}
