/**
 * npm run bench:runtime — what the consumer runtime costs per message against DynamoDB Local, next to the same
 * order handler assembled from Powertools (batch processor + idempotency utility + a status write), as the
 * samples suggest. Counts DynamoDB round trips with client middleware; times only the processing (the SQS
 * receives happen before the clock starts). Then what the runtime's OpenTelemetry spans cost: with no tracer provider,
 * with OpenTelemetry's SDK recording every span, and the tracing code alone. Prints figures; asserts nothing.
 *
 *   BENCH_MESSAGES=1000 npm run bench:runtime
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { handleOrder } from '../functions/orders/handle.ts';
import { GuaranteedConsumer } from '../functions/runtime/index.ts';
import { inBatchSpan, inRecordSpan } from '../functions/runtime/tracing.ts';
import { orders } from '../lib/channels.ts';
import { MessageAttribute } from '../lib/policy/index.ts';
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
async function batchesOfOrders(attributes: Record<string, string> = {}): Promise<{ events: SQSEvent[]; pair: Awaited<ReturnType<RuntimeHarness['queuePair']>> }> {
  const pair = await harness.queuePair({ maxReceiveCount: 5, visibilityTimeoutSeconds: 300 });
  for (let index = 0; index < MESSAGES; index += 1) {
    await harness.send(pair.queueUrl, { orderId: `o-${index}`, customerId: 'bench', items: [{ sku: 'apple', quantity: 1 }] }, { correlationId: `c-${index}-${pair.queueUrl.slice(-8)}`, attributes });
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

/** Milliseconds our runtime takes for fresh orders, sent with `attributes`. */
async function runOurs(attributes: Record<string, string> = {}): Promise<number> {
  const input = await batchesOfOrders(attributes);
  const consumer = new GuaranteedConsumer({
    channel: orders,
    handle: handleOrder,
    endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: input.pair.queueUrl, deadLetterQueueUrl: input.pair.deadLetterQueueUrl },
    clients: { sqs: harness.sqs, dynamo: ours.document },
  });
  const start = performance.now();
  for (const event of input.events) await consumer.processBatch(event);
  return performance.now() - start;
}
const oursMs = await runOurs();
const oursRequests = ours.counter.requests;
let started: number;

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
console.log(`| this template's runtime (lifecycle record = idempotency record, one transaction) | ${(oursRequests / MESSAGES).toFixed(2)} | ${(oursMs / MESSAGES).toFixed(2)} ms |`);
console.log(`| Powertools batch + idempotency + order write + status write | ${(theirs.counter.requests / MESSAGES).toFixed(2)} | ${(theirsMs / MESSAGES).toFixed(2)} ms |`);

// Telemetry: the runtime's spans with no tracer provider (as deployed without the ADOT layer), then recorded by
// OpenTelemetry's SDK (every span sampled, kept in memory), each run on orders that carry a traceparent.
const traced = { [MessageAttribute.traceparent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
const withoutProvider = await runOurs(traced);
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
const recorded = await runOurs(traced);
const spans = exporter.getFinishedSpans().length;
trace.disable();

/** The tracing code alone, with no provider: microseconds per record, over 20,000 batches of 10 with no I/O. */
async function tracingAloneMicros(attributes: SQSRecord['messageAttributes']): Promise<number> {
  const batch = Array.from({ length: 10 }, (_, index) => ({ messageId: `m${index}`, body: '{}', attributes: { ApproximateReceiveCount: '1' }, messageAttributes: attributes }) as unknown as SQSRecord);
  const batches = 20_000;
  const start = performance.now();
  for (let round = 0; round < batches; round += 1) {
    await inBatchSpan('orders', batch, () => Promise.all(batch.map((record) => inRecordSpan('orders', record, record.messageId, async () => 'succeeded', () => undefined))));
  }
  return ((performance.now() - start) * 1000) / (batches * batch.length);
}
await tracingAloneMicros({});
const [aloneUntraced, aloneTraced] = [await tracingAloneMicros({}), await tracingAloneMicros({ [MessageAttribute.traceparent]: { dataType: 'String', stringValue: traced.traceparent } } as never)];

console.log('');
console.log(`| telemetry (${MESSAGES} orders carrying a traceparent) | time per message |`);
console.log('|---|---|');
console.log(`| no tracer provider (nothing recorded; the context is handed on) | ${(withoutProvider / MESSAGES).toFixed(2)} ms |`);
console.log(`| OpenTelemetry's SDK registered, every span recorded (${spans} spans) | ${(recorded / MESSAGES).toFixed(2)} ms |`);
console.log(`| the tracing code alone, no provider, no I/O: per record without / with a traceparent | ${aloneUntraced.toFixed(2)} / ${aloneTraced.toFixed(2)} µs |`);

ours.raw.destroy();
theirs.raw.destroy();
await harness.stop();
await dynamodb.stop();
