/**
 * npm run bench:cost — what a message costs in AWS, per channel of the example app, at list prices
 * (bench/cost/prices.json): the calls each message makes, counted on the local cloud as AWS would bill them, times
 * the prices. Next to the guaranteed channel, the same channel built from Powertools batch + idempotency, whose
 * DynamoDB writes `npm run bench:runtime` counts. Prints figures; asserts nothing.
 *
 *   BENCH_MESSAGES=200 npm run bench:cost
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { readFileSync, rmSync } from 'node:fs';
import { createClient, queueDepth } from '../lib/client/index.ts';
import { OutputKey } from '../lib/policy/index.ts';
import { channels, topics } from '../lib/channels.ts';
import { startLocalCloud, UsageMeter, type Usage } from '../local/index.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);
const ROUND = 10;
const stateDir = '.local-cloud/bench-cost';
const prices = JSON.parse(readFileSync(new URL('./cost/prices.json', import.meta.url), 'utf8')) as {
  asOf: string;
  lambda: { perMillionRequests: number; perGbSecond: Record<string, number> };
  sqs: { perMillionRequests: { standard: number; fifo: number } };
  sns: { perMillionPublishes: number };
  dynamodb: { perMillionWriteRequestUnits: number; perMillionReadRequestUnits: number };
};

/** A valid message for each channel of the example app. */
const samples = {
  orders: (index: number) => ({ orderId: `cost-${index}`, customerId: 'bench', items: [{ sku: 'apple', quantity: 2 }] }),
  presence: (index: number) => ({ userId: `u-${index}`, activity: 'typing' as const, room: 'bench' }),
  quotes: (index: number) => ({ sku: 'tea', quantity: 1 + (index % 5) }),
  // Every other event a large order, which salesAlerts' filter lets through.
  orderPlaced: (index: number) => ({ orderId: `cost-${index}`, customerId: 'bench', totalCents: index % 2 === 0 ? 150_000 : 500 }),
};

const meter = new UsageMeter();
const cloud = await startLocalCloud({ stateDir, meter });
const client = await createClient({ channels, topics, target: 'local', localStateDir: stateDir });
const pushing = await createClient({ channels, topics, target: 'local', localStateDir: stateDir, replies: 'pushed' });
// Read behind the gateways, so that the benchmark's own polling is not counted.
const unmeteredSqs = new SQSClient({ region: cloud.endpoints.region, credentials: cloud.credentials, endpoint: cloud.emulators.sqs });

/** Orders sent in batches by `sender`, each reply awaited, as a caller would. */
const awaitedOrders = (sender: typeof client) => async (count: number, offset: number) => {
  for (let sent = 0; sent < count; sent += ROUND) {
    const { accepted } = await sender.sendBatch('orders', Array.from({ length: ROUND }, (_, index) => samples.orders(offset + sent + index)));
    await Promise.all(accepted.map((ack) => sender.awaitReply(ack, { maxWaitTime: 60 })));
  }
};

/** The workload of each kind: guaranteed messages sent in batches and their replies awaited, as a caller would. */
const workloads: Record<keyof typeof samples | 'ordersPushed', (count: number, offset: number) => Promise<void>> = {
  orders: awaitedOrders(client),
  // The same with replies pushed: the consumer's notice, the caller's receive and delete of it, one read per reply.
  // The reply queue is made in the uncounted first round, once per client.
  ordersPushed: awaitedOrders(pushing),
  presence: async (count, offset) => {
    for (let sent = 0; sent < count; sent += ROUND) {
      await client.sendBatch('presence', Array.from({ length: ROUND }, (_, index) => samples.presence(offset + sent + index)));
    }
    const queueUrl = client.output(OutputKey.queueUrl('presence'));
    while ((await queueDepth(unmeteredSqs, queueUrl)) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  },
  quotes: async (count, offset) => {
    for (let index = 0; index < count; index += 1) await client.request('quotes', samples.quotes(offset + index));
  },
  // An event costs what its publish and every subscriber's handling cost: billing (its invoice awaited, as a caller
  // would), the ledger billing sends it on to, shipping's hand-over, and salesAlerts for the half its filter takes.
  orderPlaced: async (count, offset) => {
    for (let sent = 0; sent < count; sent += ROUND) {
      const { accepted } = await client.publishBatch('orderPlaced', Array.from({ length: ROUND }, (_, index) => samples.orderPlaced(offset + sent + index)));
      await Promise.all(accepted.map((publication) => client.awaitReply(publication.correlationId, { channel: 'billing', maxWaitTime: 60 })));
    }
    for (const channel of ['ledger', 'shipping', 'salesAlerts']) {
      while ((await queueDepth(unmeteredSqs, client.output(OutputKey.queueUrl(channel)))) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  },
};

/**
 * Per message: the calls and units the channel's messages cost, and so, at prices per million calls or units, the
 * dollars per million messages.
 */
function cost(usage: Usage, fifo: boolean) {
  const functions = Object.entries(usage.lambda).map(([name, fn]) => ({
    ...fn,
    gbSeconds: ((fn.billedMs + fn.initMs) / 1000) * (fn.memorySizeMb / 1024),
    pricePerGbSecond: prices.lambda.perGbSecond[cloud.functions.get(name)?.props.architecture ?? 'x86_64']!,
  }));
  const sum = <T>(items: readonly T[], of: (item: T) => number) => items.reduce((total, item) => total + of(item), 0) / MESSAGES;
  const invocations = sum(functions, (fn) => fn.invocations);
  const gbSeconds = sum(functions, (fn) => fn.gbSeconds);
  // Empty receives are billed by the hour the mapping polls, not by the message.
  const sqsRequests = sum(Object.entries(usage.sqsRequests).filter(([operation]) => operation !== 'ReceiveMessage (empty)'), ([, count]) => count);
  const operations = Object.values(usage.dynamodb);
  const writeUnits = sum(operations, (operation) => operation.writeUnits);
  const readUnits = sum(operations, (operation) => operation.readUnits);
  return {
    invocations,
    gbSeconds,
    sqsRequests,
    writeUnits,
    readUnits,
    lambda: invocations * prices.lambda.perMillionRequests + sum(functions, (fn) => fn.gbSeconds * fn.pricePerGbSecond) * 1_000_000,
    sqs: sqsRequests * prices.sqs.perMillionRequests[fifo ? 'fifo' : 'standard'],
    snsPublishes: usage.snsPublishes / MESSAGES,
    sns: (usage.snsPublishes / MESSAGES) * prices.sns.perMillionPublishes,
    dynamodb: writeUnits * prices.dynamodb.perMillionWriteRequestUnits + readUnits * prices.dynamodb.perMillionReadRequestUnits,
    transactionWriteUnits: (usage.dynamodb.TransactWriteItems?.writeUnits ?? 0) / MESSAGES,
    detail: usage,
  };
}

type Row = ReturnType<typeof cost> & { label: string };
const rows: Row[] = [];
try {
  console.log(`local cloud ready in ${(cloud.startupMs / 1000).toFixed(1)} s; ${MESSAGES} messages per channel…`);
  for (const name of Object.keys(workloads) as (keyof typeof workloads)[]) {
    // A round first, uncounted, so that the figures are of warm instances; the instances a burst adds start cold,
    // and their INIT is counted.
    await workloads[name](ROUND, 1_000_000);
    meter.reset();
    await workloads[name](MESSAGES, 0);
    const labels: Partial<Record<keyof typeof workloads, string>> = {
      orderPlaced: 'orderPlaced (an event: billing, then ledger; shipping; salesAlerts for half)',
      ordersPushed: 'orders, replies pushed (a notice per reply to the caller\'s reply queue)',
    };
    const channel = name === 'orderPlaced' ? undefined : channels[name === 'ordersPushed' ? 'orders' : name];
    const label = labels[name] ?? `${name} (${channel!.policy.kind})`;
    const fifo = (channel?.policy as { fifo?: boolean } | undefined)?.fifo === true;
    rows.push({ label, ...cost(meter.snapshot(), fifo) });
  }
  const orders = rows[0]!;
  // Powertools' version of the orders channel: the same queue, mapping and handler work, so the same Lambda and SQS
  // calls; in DynamoDB its idempotency record (a put when the record starts, an update when it completes) and the
  // order and status writes, four single-item writes of a unit each (bench:runtime counts them: 4.00 per message),
  // where the template's runtime makes one transaction of two items, two units each. The caller's reads of the
  // reply are the same.
  const powertoolsWrites = 4;
  rows.splice(1, 0, {
    ...orders,
    label: 'orders, built from Powertools batch + idempotency',
    writeUnits: orders.writeUnits - orders.transactionWriteUnits + powertoolsWrites,
    dynamodb: orders.dynamodb + (powertoolsWrites - orders.transactionWriteUnits) * prices.dynamodb.perMillionWriteRequestUnits,
  });

  console.log('');
  console.log(`| per message (${MESSAGES} per channel, list prices of ${prices.asOf}) | Lambda invocations | Lambda GB-s | SQS requests | SNS publishes | DynamoDB WRU | DynamoDB RRU | $ per million messages: Lambda + SQS + SNS + DynamoDB = total |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const total = row.lambda + row.sqs + row.sns + row.dynamodb;
    console.log(
      `| ${row.label} | ${row.invocations.toFixed(2)} | ${row.gbSeconds.toFixed(5)} | ${row.sqsRequests.toFixed(2)} | ${row.snsPublishes.toFixed(2)} | ${row.writeUnits.toFixed(2)} | ${row.readUnits.toFixed(2)} | ` +
        `${row.lambda.toFixed(2)} + ${row.sqs.toFixed(2)} + ${row.sns.toFixed(2)} + ${row.dynamodb.toFixed(2)} = ${total.toFixed(2)} |`,
    );
  }
  console.log('');
  console.log('Empty receives are left out of the price: Lambda long-polls each queue whether messages come or not, a');
  console.log('cost by the hour, not by the message. Lambda time is as measured here, on a shared 2-core machine.');
  for (const row of rows.filter((candidate) => !candidate.label.includes('Powertools'))) {
    const calls = Object.entries(row.detail.sqsRequests).map(([operation, count]) => `${operation} ${(count / MESSAGES).toFixed(2)}`);
    const dynamodbCalls = Object.entries(row.detail.dynamodb).map(([operation, { calls }]) => `${operation} ${(calls / MESSAGES).toFixed(2)}`);
    const lambda = Object.entries(row.detail.lambda).map(
      ([name, fn]) => `${name.replace(/^DeliveryPolicies-Channels/, '')} ${fn.invocations} × ${(fn.billedMs / fn.invocations).toFixed(0)} ms at ${fn.memorySizeMb} MB + INIT ${fn.initMs} ms`,
    );
    console.log(`${row.label}, per message: SQS ${calls.join(', ') || 'none'}; DynamoDB ${dynamodbCalls.join(', ') || 'none'}; Lambda ${lambda.join(', ')}`);
  }
} finally {
  unmeteredSqs.destroy();
  client.destroy();
  await pushing.close();
  await cloud.stop();
  rmSync(stateDir, { recursive: true, force: true });
}

