import { InvokeCommand } from '@aws-sdk/client-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createClient, queueDepth, redriveDeadLetters, type MessagingClient } from '../../lib/client/index.ts';
import { MessageAttribute, OutputKey, type LifecycleRecord } from '../../lib/policy/index.ts';
import { startLocalCloud } from '../../local/index.ts';
import { synthesizeChaos } from './app.ts';
import { chaosChannels, DEFAULT_QUOTES_DEADLINE_MS, FAULT_SWITCH_KEY, quotesChannel, type FaultMix } from './channels.ts';

export interface ChaosOptions {
  readonly messages: number;
  readonly mix?: Omit<FaultMix, 'enabled'>;
  /** Share of messages that are poison (fail permanently while faults are on). */
  readonly poison?: number;
  /** Share of messages the sender sends twice. */
  readonly duplicates?: number;
  readonly notices?: number;
  readonly requests?: number;
  /**
   * The request-response channel's deadline, deployed and used by the client alike. npm test passes a generous
   * one so that its short run never fails on how fast a busy machine starts an instance.
   * @default DEFAULT_QUOTES_DEADLINE_MS (1000)
   */
  readonly requestDeadlineMs?: number;
  readonly log?: (line: string) => void;
}

export interface ChaosReport {
  readonly sent: number;
  readonly duplicatesSent: number;
  readonly appliedOnceBeforeRedrive: number;
  readonly deadLettered: number;
  readonly poison: number;
  readonly poisonDeadLettered: number;
  readonly poisonDeadLetteredOnFirstReceive: number;
  readonly redriven: number;
  readonly lost: number;
  readonly appliedTwice: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly notices: { readonly sent: number; readonly expiredSent: number; readonly applied: number; readonly appliedAfterExpiry: number; readonly expiredApplied: number };
  /**
   * answered counts answers, which the SDK gives only within the deadline (past it, request rejects with
   * DeadlineExceeded). overDeadline and maxElapsedMs are the caller's wall clock, which includes the event loop's
   * scheduling: reported figures, not proof of anything.
   */
  readonly requests: {
    readonly sent: number;
    readonly answered: number;
    readonly byFallback: number;
    readonly deadlineMs: number;
    readonly overDeadline: number;
    readonly maxElapsedMs: number;
  };
  readonly mix: Omit<FaultMix, 'enabled'>;
  readonly wallSeconds: number;
}

const DEFAULT_MIX = { transient: 0.2, slow: 0.01, crash: 0.005 };
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends N messages through a guaranteed channel whose consumer fails transiently, runs past its timeout,
 * crashes mid-batch and meets poison and duplicate messages; then reconciles: every message applied exactly
 * once or dead-lettered with its reason, and after a redrive with the faults off, every message applied.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const mix = options.mix ?? DEFAULT_MIX;
  const stateDir = `.local-cloud/chaos-${randomUUID().slice(0, 8)}`;
  const requestDeadlineMs = options.requestDeadlineMs ?? DEFAULT_QUOTES_DEADLINE_MS;
  const quotes = quotesChannel(requestDeadlineMs);
  const cloud = await startLocalCloud({ cdkOut: synthesizeChaos(`${stateDir}/cdk.out`, quotes), stateDir });
  const client = await createClient({ target: 'local', localStateDir: stateDir, stackName: 'Chaos', channels: { ...chaosChannels, chaosQuotes: quotes } });
  const table = client.output(OutputKey.stateTableName);
  try {
    await setFaults(client, table, { enabled: true, ...mix });

    // Guaranteed: N messages, some poison, some sent twice with the same correlation id.
    const ids = Array.from({ length: options.messages }, (_, index) => ({ id: `m-${index}`, poison: Math.random() < (options.poison ?? 0.01) }));
    const correlationOf = new Map<string, string>();
    let duplicatesSent = 0;
    await inParallel(Math.ceil(ids.length / 10), 4, async (batch) => {
      const slice = ids.slice(batch * 10, batch * 10 + 10);
      const acks = await client.sendBatch('chaos', slice.map((message) => ({ ...message, sentAt: Date.now() })));
      acks.forEach((ack, offset) => correlationOf.set(slice[offset]!.id, ack.correlationId));
      for (const [offset, message] of slice.entries()) {
        if (Math.random() < (options.duplicates ?? 0.02)) {
          await client.send('chaos', { ...message, sentAt: Date.now() }, { correlationId: acks[offset]!.correlationId });
          duplicatesSent += 1;
        }
      }
    });
    log(`sent ${ids.length} (+${duplicatesSent} duplicates); waiting for the queue to drain…`);
    await drained(client, 'chaos');

    const before = await snapshot(client, table);
    const poisonIds = ids.filter((message) => message.poison).map((message) => correlationOf.get(message.id)!);
    const poisonRecords = poisonIds.map((id) => before.lifecycles.get(id));
    const deadLetteredBefore = await queueDepth(client.sqs, client.output(OutputKey.deadLetterQueueUrl('chaos')));
    log(`applied ${before.applied.size}, dead-lettered ${deadLetteredBefore}; faults off, redriving…`);

    await setFaults(client, table, { enabled: false, ...mix });
    const redrive = await redriveDeadLetters(client, 'chaos');
    await drained(client, 'chaos');
    const after = await snapshot(client, table);

    const latencies = [...before.applied.values()].map((item) => item.firstAppliedAt - item.sentAt).sort((a, b) => a - b);
    const notices = await noticesUnderExpiry(client, table, options.notices ?? 200);
    const requests = await requestsUnderFaults(client, options.requests ?? 100, requestDeadlineMs);
    return {
      sent: ids.length,
      duplicatesSent,
      appliedOnceBeforeRedrive: [...before.applied.values()].filter((item) => item.applied === 1).length,
      deadLettered: deadLetteredBefore,
      poison: poisonIds.length,
      poisonDeadLettered: poisonRecords.filter((record) => record?.status === 'dead-lettered' && /PermanentError/.test(record.reason ?? '')).length,
      poisonDeadLetteredOnFirstReceive: poisonRecords.filter((record) => record?.history[0]?.status === 'dead-lettered' && record.history[0].attempt === 1).length,
      redriven: redrive.moved,
      lost: ids.filter((message) => !after.applied.has(message.id)).length,
      appliedTwice: [...after.applied.values()].filter((item) => item.applied > 1).length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      notices,
      requests,
      mix,
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    client.destroy();
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function setFaults(client: MessagingClient, table: string, mix: FaultMix): Promise<void> {
  await client.dynamo.send(new PutCommand({ TableName: table, Item: { ...FAULT_SWITCH_KEY, mix } }));
  // The consumers cache the switch for half a second.
  await sleep(600);
}

async function inParallel(total: number, workers: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) await work(next++);
  }));
}

/** Waits until the channel's queue holds nothing, visible or in flight, twice in a row. */
async function drained(client: MessagingClient, channel: string): Promise<void> {
  let emptyPolls = 0;
  while (emptyPolls < 2) {
    emptyPolls = (await queueDepth(client.sqs, client.output(OutputKey.queueUrl(channel)))) === 0 ? emptyPolls + 1 : 0;
    await sleep(1000);
  }
}

interface AppliedCount {
  readonly applied: number;
  readonly firstAppliedAt: number;
  readonly sentAt: number;
}

/** Every application counter (by message id) and lifecycle record (by correlation id) in the table. */
async function snapshot(client: MessagingClient, table: string) {
  const applied = new Map<string, AppliedCount>();
  const lifecycles = new Map<string, LifecycleRecord>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      const pk = String(item.pk);
      if (pk.startsWith('applied#')) applied.set(pk.slice('applied#'.length), item as unknown as AppliedCount);
      else if (pk.startsWith('msg#')) lifecycles.set(pk.slice('msg#'.length), item as unknown as LifecycleRecord);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { applied, lifecycles };
}

/** Fire-and-forget under the same load: live notices, and notices sent already expired behind the SDK's back. */
async function noticesUnderExpiry(client: MessagingClient, table: string, count: number) {
  const expiredCount = Math.ceil(count / 4);
  for (let index = 0; index < count; index += 1) await client.send('chaosNotices', { id: `live-${index}` });
  for (let index = 0; index < expiredCount; index += 1) {
    await client.sqs.send(
      new SendMessageCommand({
        QueueUrl: client.output(OutputKey.queueUrl('chaosNotices')),
        MessageBody: JSON.stringify({ id: `expired-${index}` }),
        MessageAttributes: { [MessageAttribute.expiresAt]: { DataType: 'Number', StringValue: String(Date.now() - 1) } },
      }),
    );
  }
  await drained(client, 'chaosNotices');
  const notices: { pk: string; appliedAt: number; expiresAt: number }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, FilterExpression: 'begins_with(pk, :notice)', ExpressionAttributeValues: { ':notice': 'notice#' } }));
    notices.push(...((page.Items ?? []) as typeof notices));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return {
    sent: count,
    expiredSent: expiredCount,
    applied: notices.length,
    appliedAfterExpiry: notices.filter((notice) => notice.appliedAt > notice.expiresAt).length,
    expiredApplied: notices.filter((notice) => notice.pk.startsWith('notice#expired-')).length,
  };
}

/** Request-response with the primary failing half its calls and stalling on a tenth: answered within the deadline? */
async function requestsUnderFaults(client: MessagingClient, count: number, deadlineMs: number) {
  // A service in production keeps warm instances of both responders (provisioned concurrency, steady traffic);
  // start as many of each as there are concurrent callers before counting, or cold starts are what gets measured.
  const warm = (key: string) =>
    Promise.all(Array.from({ length: 4 }, (_, index) => client.lambda.send(new InvokeCommand({ FunctionName: client.output(key), Payload: Buffer.from(JSON.stringify({ id: `warm-${index}` })) }))));
  await Promise.all([warm(OutputKey.primaryFunctionName('chaosQuotes')), warm(OutputKey.fallbackFunctionName('chaosQuotes'))]);
  let answered = 0;
  let byFallback = 0;
  let overDeadline = 0;
  let maxElapsedMs = 0;
  await inParallel(count, 4, async (index) => {
    const started = performance.now();
    try {
      const result = await client.request('chaosQuotes', { id: `q-${index}` });
      answered += 1;
      if (result.responder === 'fallback') byFallback += 1;
    } catch {
      // Counted by its absence from answered.
    }
    const elapsed = performance.now() - started;
    maxElapsedMs = Math.max(maxElapsedMs, Math.round(elapsed));
    if (elapsed > deadlineMs) overDeadline += 1;
  });
  return { sent: count, answered, byFallback, deadlineMs, overDeadline, maxElapsedMs };
}

/** The report as the table README shows. */
export function formatChaosReport(report: ChaosReport): string {
  const rows: [string, string | number][] = [
    ['fault mix (per attempt)', `transient ${report.mix.transient * 100}%, past timeout ${report.mix.slow * 100}%, crash mid-batch ${report.mix.crash * 100}%; poison ${report.poison} messages; ${report.duplicatesSent} sent twice`],
    ['sent', report.sent],
    ['applied exactly once before the redrive', report.appliedOnceBeforeRedrive],
    ['dead-lettered (with reason)', report.deadLettered],
    ['poison dead-lettered / on first receive', `${report.poisonDeadLettered} of ${report.poison} / ${report.poisonDeadLetteredOnFirstReceive}`],
    ['redriven with faults off', report.redriven],
    ['**lost**', report.lost],
    ['**applied twice**', report.appliedTwice],
    ['send → applied p50 / p99', `${report.p50Ms} ms / ${report.p99Ms} ms`],
    ['fire-and-forget: applied / after expiry / expired applied', `${report.notices.applied} of ${report.notices.sent} live / ${report.notices.appliedAfterExpiry} / ${report.notices.expiredApplied} of ${report.notices.expiredSent}`],
    [
      `request-response (deadline ${report.requests.deadlineMs} ms): answered / by fallback / over deadline by wall clock (max)`,
      `${report.requests.answered} of ${report.requests.sent} / ${report.requests.byFallback} / ${report.requests.overDeadline} (${report.requests.maxElapsedMs} ms)`,
    ],
    ['wall time', `${report.wallSeconds} s`],
  ];
  return ['| measure | value |', '|---|---|', ...rows.map(([name, value]) => `| ${name} | ${value} |`)].join('\n');
}
