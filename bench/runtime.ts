/**
 * npm run bench:runtime — what the consumer runtime costs per message against DynamoDB Local, next to the same
 * order handler assembled from Powertools (batch processor + idempotency utility + a status write), as the
 * samples suggest. Counts DynamoDB round trips with client middleware; times only the processing (the SQS
 * receives happen before the clock starts). Prints figures; asserts nothing.
 *
 *   BENCH_MESSAGES=1000 npm run bench:runtime
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { handleOrder } from '../functions/orders/handle.ts';
import { GuaranteedConsumer } from '../functions/runtime/index.ts';
import { orders } from '../lib/channels.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../local/emulators.ts';
import { RuntimeHarness } from '../test/helpers/runtime-harness.ts';

process.env.LOG_LEVEL ??= 'SILENT';
process.env.METRICS_DISABLED ??= 'true';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);

const dynamodb = await startDynamoDbLocal();
const harness = new RuntimeHarness({ endpoint: dynamodb.endpoint, tablePrefix: 'bench-' });
await harness.start();

/** A DynamoDB client that counts its requests. */
function countedDynamo(endpoint: string) {
  const counter = { requests: 0 };
  const raw = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint });
  raw.middlewareStack.add((next) => async (args) => {
    counter.requests += 1;
    return next(args);
  }, { step: 'initialize', name: 'countRequests' });
  return { raw, document: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }), counter };
}

/** Fresh orders on a fresh queue, received into Lambda-shaped batches of 10 before timing starts. */
async function batchesOfOrders(): Promise<{ events: SQSEvent[]; pair: Awaited<ReturnType<RuntimeHarness['queuePair']>> }> {
  const pair = await harness.queuePair({ maxReceiveCount: 5, visibilityTimeoutSeconds: 300 });
  for (let index = 0; index < MESSAGES; index += 1) {
    await harness.send(pair.queueUrl, { orderId: `o-${index}`, customerId: 'bench', items: [{ sku: 'apple', quantity: 1 }] }, { correlationId: `c-${index}-${pair.queueUrl.slice(-8)}` });
  }
  const events: SQSEvent[] = [];
  let received = 0;
  while (received < MESSAGES) {
    const messages = await harness.receive(pair.queueUrl, Math.min(10, MESSAGES - received));
    received += messages.length;
    events.push(harness.event(messages, pair.queueArn));
  }
  return { events, pair };
}

const lambdaContext = { getRemainingTimeInMillis: () => 30_000, functionName: 'bench', awsRequestId: 'bench' } as unknown as Context;
const endpoint = (harness.dynamo.config.endpoint ? await harness.dynamo.config.endpoint() : undefined)!;
const dynamoEndpoint = `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;

// This template's runtime: validation, dedupe and the order write in one TransactWriteItems per message.
const ours = countedDynamo(dynamoEndpoint);
const oursInput = await batchesOfOrders();
const consumer = new GuaranteedConsumer({
  channel: orders,
  handle: handleOrder,
  endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: oursInput.pair.queueUrl, deadLetterQueueUrl: oursInput.pair.deadLetterQueueUrl },
  clients: { sqs: harness.sqs, dynamo: ours.document },
});
let started = performance.now();
for (const event of oursInput.events) await consumer.processBatch(event);
const oursMs = performance.now() - started;

// Powertools: BatchProcessor + makeIdempotent (its own record) + the order write + a status write.
const theirs = countedDynamo(dynamoEndpoint);
await theirs.raw.send(
  new CreateTableCommand({
    TableName: 'idempotency',
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
  }),
);
theirs.counter.requests = 0;
const persistenceStore = new DynamoDBPersistenceLayer({ tableName: 'idempotency', awsSdkV3Client: theirs.raw });
const config = new IdempotencyConfig({ eventKeyJmesPath: 'messageAttributes.correlationId.stringValue' });
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = makeIdempotent(
  async (record: SQSRecord) => {
    const order = orders.schema.parse(JSON.parse(record.body));
    const correlationId = record.messageAttributes.correlationId?.stringValue ?? record.messageId;
    await theirs.document.send(new PutCommand({ TableName: harness.tableName, Item: { pk: `order#${order.orderId}#pt`, sk: 'order', ...order, status: 'accepted' } }));
    await theirs.document.send(
      new UpdateCommand({
        TableName: harness.tableName,
        Key: { pk: `status#${correlationId}`, sk: 'status' },
        UpdateExpression: 'SET #status = :succeeded, completedAt = :now',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':succeeded': 'succeeded', ':now': Date.now() },
      }),
    );
    return { orderId: order.orderId };
  },
  { persistenceStore, config },
);
const theirsInput = await batchesOfOrders();
config.registerLambdaContext(lambdaContext);
started = performance.now();
for (const event of theirsInput.events) await processPartialResponse(event, recordHandler, processor, { context: lambdaContext });
const theirsMs = performance.now() - started;

console.log(`| consumer (${MESSAGES} orders, batches of 10, DynamoDB Local) | DynamoDB round trips per message | time per message |`);
console.log('|---|---|---|');
console.log(`| this template's runtime (lifecycle record = idempotency record, one transaction) | ${(ours.counter.requests / MESSAGES).toFixed(2)} | ${(oursMs / MESSAGES).toFixed(2)} ms |`);
console.log(`| Powertools batch + idempotency + order write + status write | ${(theirs.counter.requests / MESSAGES).toFixed(2)} | ${(theirsMs / MESSAGES).toFixed(2)} ms |`);

ours.raw.destroy();
theirs.raw.destroy();
await harness.stop();
await dynamodb.stop();
