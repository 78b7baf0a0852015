/**
 * npm run bench:local — end-to-end throughput of the local cloud through the guaranteed `orders` channel, next to
 * the two bounds measured in the same run: the SQS emulator's raw send + receive + delete rate, and DynamoDB
 * Local's raw rate of the transaction the runtime commits per message, at the consumer's concurrency. The ratio
 * to the tighter bound is what the local cloud itself (Lambda emulation, the runtime) leaves of what the emulators
 * can do. Prints figures; asserts nothing.
 *
 *   BENCH_MESSAGES=5000 npm run bench:local
 */
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { rmSync } from 'node:fs';
import { channels, orders } from '../lib/channels.ts';
import { createClient, queueDepth } from '../lib/client/index.ts';
import { OutputKey } from '../lib/policy/index.ts';
import { startLocalCloud } from '../local/index.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 5000);
const SENDERS = 8;
const stateDir = '.local-cloud/bench-local';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function inParallel(total: number, workers: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) await work(next++);
  }));
}

// BENCH_IAM=off measures the local cloud without its IAM gateways, to show what checking every call costs.
const iam = process.env.BENCH_IAM !== 'off';
const cloud = await startLocalCloud({ stateDir, iam });
const client = await createClient({ channels, target: 'local', localStateDir: stateDir });
const config = { region: cloud.endpoints.region, credentials: cloud.credentials };
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: cloud.endpoints.dynamodb }));
try {
  console.log(`local cloud ready in ${(cloud.startupMs / 1000).toFixed(1)} s; sending ${MESSAGES} orders through the guaranteed channel…`);

  // End to end: send → queue → poller → worker-thread Lambda → runtime → TransactWriteItems.
  const sentAt = new Map<string, number>();
  const started = Date.now();
  await inParallel(Math.ceil(MESSAGES / 10), SENDERS, async (batch) => {
    const payloads = Array.from({ length: Math.min(10, MESSAGES - batch * 10) }, (_, offset) => ({
      orderId: `bench-${batch * 10 + offset}`,
      customerId: 'bench',
      items: [{ sku: 'apple', quantity: 1 }],
    }));
    const now = Date.now();
    const { accepted, rejected } = await client.sendBatch('orders', payloads);
    if (rejected.length > 0) throw new Error(`SQS refused ${rejected.length} messages: ${rejected[0]!.message}`);
    for (const ack of accepted) sentAt.set(ack.correlationId, now);
  });
  const sendSeconds = (Date.now() - started) / 1000;

  // Done when the queue is empty and nothing is in flight; only then is the table read, once: scanning it while the
  // consumer writes would take DynamoDB Local's time from the consumer being measured.
  const queueUrl = client.output(OutputKey.queueUrl('orders'));
  while ((await queueDepth(client.sqs, queueUrl)) > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  const completedAt = new Map<string, number>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: client.output(OutputKey.lifecycleTableName),
        FilterExpression: '#status = :succeeded',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':succeeded': 'succeeded' },
        ProjectionExpression: 'correlationId, completedAt',
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) if (sentAt.has(item.correlationId)) completedAt.set(item.correlationId, item.completedAt);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  if (completedAt.size < MESSAGES) throw new Error(`only ${completedAt.size} of ${MESSAGES} orders were applied`);
  const lastApplied = Math.max(...completedAt.values());
  const endToEndSeconds = (lastApplied - started) / 1000;
  const latencies = [...completedAt].map(([id, at]) => at - sentAt.get(id)!).sort((a, b) => a - b);

  // The emulator alone (not through the IAM gateway), same process, same count: SendMessageBatch, ReceiveMessage (10),
  // DeleteMessageBatch.
  const sqs = new SQSClient({ ...config, endpoint: cloud.emulators.sqs });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench-raw' }));
  const rawStarted = Date.now();
  await inParallel(Math.ceil(MESSAGES / 10), SENDERS, async (batch) => {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `raw-${batch}-${i}` })) }));
  });
  let received = 0;
  await inParallel(SENDERS, SENDERS, async () => {
    while (received < MESSAGES) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (Messages.length === 0) continue;
      received += Messages.length;
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: Messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle! })) }));
    }
  });
  const rawSeconds = (Date.now() - rawStarted) / 1000;
  sqs.destroy();

  // DynamoDB Local alone: per message one TransactWriteItems of a conditional lifecycle update and the order, as
  // the runtime commits it, with as many in flight as the consumer can have (its pollers × its batch size).
  const concurrency = (orders.policy.maxConcurrency ?? 5) * orders.policy.batchSize;
  const [lifecycleTableName, stateTableName] = [client.output(OutputKey.lifecycleTableName), client.output(OutputKey.stateTableName)];
  const rawDynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: cloud.emulators.dynamodb }));
  const transactionsStarted = Date.now();
  await inParallel(MESSAGES, concurrency, async (index) => {
    await rawDynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: lifecycleTableName,
              Key: { pk: `bench-raw#${index}` },
              UpdateExpression: 'SET #status = :succeeded, completedAt = :now',
              ConditionExpression: 'attribute_not_exists(pk) OR #status <> :succeeded',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':succeeded': 'succeeded', ':now': Date.now() },
            },
          },
          { Put: { TableName: stateTableName, Item: { pk: `bench-raw-order#${index}`, sk: 'order', index } } },
        ],
      }),
    );
  });
  const transactionSeconds = (Date.now() - transactionsStarted) / 1000;
  rawDynamo.destroy();

  const endToEndRate = MESSAGES / endToEndSeconds;
  const rawRate = MESSAGES / rawSeconds;
  const transactionRate = MESSAGES / transactionSeconds;
  const bound = Math.min(rawRate, transactionRate);
  console.log('');
  console.log(`| measure (${MESSAGES} messages, ${SENDERS} concurrent senders, IAM ${iam ? 'enforced' : 'off'}) | value |`);
  console.log('|---|---|');
  console.log(`| local cloud start to ready (synth included) | ${(cloud.startupMs / 1000).toFixed(1)} s |`);
  console.log(`| send rate (SendMessageBatch through the SDK) | ${(MESSAGES / sendSeconds).toFixed(0)} msg/s |`);
  console.log(`| end to end, orders channel (send → applied) | ${endToEndRate.toFixed(0)} msg/s |`);
  console.log(`| send → applied latency p50 / p99 | ${percentile(latencies, 50)} ms / ${percentile(latencies, 99)} ms |`);
  console.log(`| bound 1: raw emulator SQS send + receive + delete | ${rawRate.toFixed(0)} msg/s |`);
  console.log(`| bound 2: raw DynamoDB Local TransactWriteItems, ${concurrency} in flight | ${transactionRate.toFixed(0)} msg/s |`);
  console.log(`| end to end ÷ the tighter bound | ${(endToEndRate / bound).toFixed(2)} |`);
} finally {
  client.destroy();
  dynamo.destroy();
  await cloud.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
