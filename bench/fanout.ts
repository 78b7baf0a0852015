/**
 * npm run bench:fanout — events published to the example app's `orderPlaced` topic on the local cloud: how long from
 * the publish until `billing` and `shipping` (guaranteed, the second hop) and `ledger` (the third, sent on by billing's
 * outbox) have applied each event, and how many applications a second the flow sustains; next to the bound measured in the same
 * run, the emulator's raw SNS → SQS fan-out (publish, and receive + delete at both subscribers). Prints figures;
 * asserts nothing.
 *
 *   BENCH_EVENTS=1000 npm run bench:fanout
 */
import { CreateTopicCommand, PublishBatchCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { rmSync } from 'node:fs';
import { channels, topics } from '../lib/channels.ts';
import { createClient, queueDepth } from '../lib/client/index.ts';
import { OutputKey, type LifecycleRecord } from '../lib/policy/index.ts';
import { startLocalCloud } from '../local/index.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const PUBLISHERS = 8;
const stateDir = '.local-cloud/bench-fanout';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inParallel(total: number, workers: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) await work(next++);
  }));
}

const cloud = await startLocalCloud({ stateDir });
const client = await createClient({ channels, topics, target: 'local', localStateDir: stateDir });
try {
  console.log(`local cloud ready in ${(cloud.startupMs / 1000).toFixed(1)} s; publishing ${EVENTS} events to orderPlaced…`);

  // End to end: publish → SNS → each subscriber's queue → its consumer; billing's commit → its outbox → the ledger.
  const publishedAt = new Map<string, number>();
  const started = Date.now();
  await inParallel(Math.ceil(EVENTS / 10), PUBLISHERS, async (batch) => {
    // Every other event is a large order, which salesAlerts' filter lets through.
    const events = Array.from({ length: Math.min(10, EVENTS - batch * 10) }, (_, offset) => ({
      orderId: `bench-${batch * 10 + offset}`,
      customerId: `c-${batch % 50}`,
      totalCents: offset % 2 === 0 ? 150_000 : 500,
    }));
    const now = Date.now();
    const { accepted, rejected } = await client.publishBatch('orderPlaced', events);
    if (rejected.length > 0) throw new Error(`SNS refused ${rejected.length} events: ${rejected[0]!.message}`);
    for (const publication of accepted) publishedAt.set(publication.correlationId, now);
  });
  for (const channel of ['billing', 'shipping', 'salesAlerts', 'ledger']) {
    while ((await queueDepth(client.sqs, client.output(OutputKey.queueUrl(channel)))) > 0) await sleep(200);
  }
  const seconds = (Date.now() - started) / 1000;

  const records: LifecycleRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.dynamo.send(new ScanCommand({ TableName: client.output(OutputKey.lifecycleTableName), ExclusiveStartKey: startKey, ConsistentRead: true }));
    records.push(...((page.Items ?? []) as LifecycleRecord[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const latencies = (channel: string) =>
    records
      .filter((record) => record.channel === channel && record.status === 'succeeded' && publishedAt.has(record.flowId ?? ''))
      .map((record) => record.completedAt! - publishedAt.get(record.flowId!)!)
      .sort((a, b) => a - b);
  const billed = latencies('billing');
  const entered = latencies('ledger');
  const shipped = latencies('shipping');
  const alerts = Math.ceil(EVENTS / 2);
  const applications = billed.length + entered.length + shipped.length + alerts;

  // The bound: the emulator alone fanning the same number of events out to two raw subscriptions, drained as a poller would.
  const config = { region: cloud.endpoints.region, credentials: cloud.credentials, endpoint: cloud.emulators.sqs };
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'bench-raw' }));
  const queues = await Promise.all(['bench-raw-a', 'bench-raw-b'].map(async (QueueName) => (await sqs.send(new CreateQueueCommand({ QueueName }))).QueueUrl!));
  for (const QueueUrl of queues) {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn, Attributes: { RawMessageDelivery: 'true' } }));
  }
  const rawStarted = Date.now();
  await inParallel(Math.ceil(EVENTS / 10), PUBLISHERS, async (batch) => {
    const entries = Array.from({ length: Math.min(10, EVENTS - batch * 10) }, (_, offset) => ({ Id: String(offset), Message: `{"n":${batch * 10 + offset}}` }));
    await sns.send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: entries }));
  });
  await Promise.all(
    queues.map(async (QueueUrl) => {
      for (let received = 0; received < EVENTS; ) {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        received += Messages.length;
        if (Messages.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })) }));
      }
    }),
  );
  const rawSeconds = (Date.now() - rawStarted) / 1000;
  sns.destroy();
  sqs.destroy();

  const rate = (count: number, over: number) => Math.round(count / over);
  console.log(`| measure | value |
|---|---|
| events published | ${EVENTS} (half of them large orders, which salesAlerts takes) |
| applications (billing + shipping + salesAlerts + ledger) / s, end to end | ${rate(applications, seconds)} (${applications} in ${seconds.toFixed(1)} s) |
| publish → billing applied (2nd hop), p50 / p99 | ${percentile(billed, 50)} ms / ${percentile(billed, 99)} ms (${billed.length} applied) |
| publish → shipping applied (2nd hop, an outside effect), p50 / p99 | ${percentile(shipped, 50)} ms / ${percentile(shipped, 99)} ms (${shipped.length} applied) |
| publish → ledger applied (3rd hop, sent on by billing's outbox), p50 / p99 | ${percentile(entered, 50)} ms / ${percentile(entered, 99)} ms (${entered.length} applied) |
| the emulator alone: deliveries / s, published and drained at 2 raw subscriptions | ${rate(2 * EVENTS, rawSeconds)} (${2 * EVENTS} in ${rawSeconds.toFixed(1)} s) |`);
} finally {
  client.destroy();
  await cloud.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
