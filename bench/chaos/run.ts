import { InvokeCommand } from '@aws-sdk/client-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand, ScanCommand, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createClient, queueDepth, redriveDeadLetters, type MessagingClient } from '../../lib/client/index.ts';
import { MessageAttribute, OutputKey, type LifecycleRecord } from '../../lib/policy/index.ts';
import { startLocalCloud, type SharedDynamoDb } from '../../local/index.ts';
import { synthesizeChaos } from './app.ts';
import { unfinished } from './faults.ts';
import { onwardId } from '../../functions/runtime/onward.ts';
import { chaosAnnounced, chaosChannels, chaosFlow, chaosPlaced, chaosTopics, DEFAULT_QUOTES_DEADLINE_MS, FAULT_SWITCH_KEY, guaranteedChannels, quotesChannel, type FaultMix, type GuaranteedKind } from './channels.ts';

/**
 * What a run covers: a guaranteed channel of each kind, a flow (published to a topic, applied by a subscriber, sent on
 * to a ledger: its two guaranteed hops are reconciled as the kinds 'flow' and 'ledger'), then fire-and-forget and
 * request-response.
 */
export const CHAOS_PHASES = ['transactional', 'outside', 'fifo', 'flow', 'fire-and-forget', 'request-response'] as const;
export type ChaosPhase = (typeof CHAOS_PHASES)[number];

export interface ChaosOptions {
  /** Messages per guaranteed channel kind. */
  readonly messages: number;
  /** @default CHAOS_PHASES */
  readonly phases?: readonly ChaosPhase[];
  readonly mix?: Omit<FaultMix, 'enabled'>;
  /** Share of messages that are poison (fail permanently while faults are on), rounded to a number of messages. */
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
  /** A DynamoDB already running, for the local cloud to use instead of starting one (npm test shares one). */
  readonly sharedDynamoDb?: SharedDynamoDb;
}

/** One guaranteed channel's reconciliation: before the redrive (faults on), and after it (faults off). */
export interface GuaranteedReport {
  readonly kind: GuaranteedKind;
  readonly sent: number;
  readonly duplicatesSent: number;
  readonly poison: number;
  readonly appliedOnceBeforeRedrive: number;
  /** Messages whose lifecycle record says dead-lettered before the redrive, and of those, how many give a reason. */
  readonly deadLettered: number;
  readonly deadLetteredWithReason: number;
  /** Copies in the DLQ before the redrive (a crash after the DLQ send may leave two of one message). */
  readonly deadLetterCopies: number;
  /** Messages neither applied nor dead-lettered once the queue drained: in limbo. */
  readonly unaccounted: number;
  readonly poisonDeadLettered: number;
  readonly poisonDeadLetteredOnFirstReceive: number;
  readonly redriven: number;
  /** Dead-lettered messages applied after the redrive. */
  readonly redrivenApplied: number;
  readonly lost: number;
  /** Messages whose effect was applied more than once. */
  readonly appliedTwice: number;
  /** Applications beyond the first, and how many of them an instance's crash interrupted before their completion. */
  readonly repeats: number;
  readonly repeatsInCrashWindow: number;
  /** FIFO: groups, and effects applied before an earlier message of their group (before the redrive). */
  readonly groups: number;
  readonly outOfOrder: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The ledger: messages sent on only after the redrive, their cause in the DLQ with its outbox not yet sent. */
  readonly heldForRedrive?: number;
}

export interface NoticesReport {
  readonly sent: number;
  readonly expiredSent: number;
  readonly applied: number;
  readonly appliedAfterExpiry: number;
  readonly expiredApplied: number;
}

/**
 * answered counts answers, which the SDK gives only within the deadline (past it, request rejects with
 * DeadlineExceeded). overDeadline and maxElapsedMs are the caller's wall clock, which includes the event loop's
 * scheduling: reported figures, not proof of anything.
 */
export interface RequestsReport {
  readonly sent: number;
  readonly answered: number;
  readonly byFallback: number;
  readonly deadlineMs: number;
  readonly overDeadline: number;
  readonly maxElapsedMs: number;
}

/** The flow's fire-and-forget subscriber: what reached it of what was published (it keeps no record, dedupes nothing). */
export interface AnnouncedReport {
  readonly published: number;
  readonly delivered: number;
  /** Events it took more than once: a duplicate publish, or a redelivery after a crash. */
  readonly deliveredAgain: number;
}

export interface ChaosReport {
  readonly guaranteed: readonly GuaranteedReport[];
  readonly announced?: AnnouncedReport;
  readonly notices?: NoticesReport;
  readonly requests?: RequestsReport;
  readonly mix: Omit<FaultMix, 'enabled'>;
  readonly poisonShare: number;
  readonly duplicatesShare: number;
  readonly wallSeconds: number;
}

export const DEFAULT_MIX = { transient: 0.2, slow: 0.01, crash: 0.005 };
export const DEFAULT_POISON = 0.01;
export const DEFAULT_DUPLICATES = 0.02;
/**
 * Messages per FIFO group: enough that a group spans several batches (every failure splits one and sends the rest of
 * the group back), few enough that a group's chain of retries, each waiting out a backoff or a visibility timeout,
 * does not hold the whole run.
 */
const FIFO_GROUP_SIZE = 10;
/** The flow's guaranteed hops: its transactional and outside subscribers, and the ledger the first sends on to. */
const FLOW_HOPS: readonly GuaranteedKind[] = ['flow', 'shipping', 'ledger'];
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const chunks = <T>(list: readonly T[], size: number) => Array.from({ length: Math.ceil(list.length / size) }, (_, index) => list.slice(index * size, index * size + size));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SentMessage {
  readonly id: string;
  readonly poison: boolean;
  readonly group?: string;
  readonly seq?: number;
  correlationId?: string;
}

/**
 * Sends N messages through a guaranteed channel of each kind whose consumers fail transiently, run past their
 * timeout, crash mid-batch and meet poison and duplicate messages; then reconciles: every message applied once
 * (an outside effect again only where a crash interrupted it before its completion) or dead-lettered with its
 * reason, FIFO groups in order, and after a redrive with the faults off, every message applied.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const phases = options.phases ?? CHAOS_PHASES;
  const kinds = (Object.keys(guaranteedChannels) as GuaranteedKind[]).filter((kind) => phases.includes(FLOW_HOPS.includes(kind) ? 'flow' : (kind as ChaosPhase)));
  // The flow's other hops take what its publish and its first subscriber give them: drained and redriven after it.
  const firstHops = kinds.filter((kind) => !FLOW_HOPS.includes(kind) || kind === 'flow');
  const mix = options.mix ?? DEFAULT_MIX;
  const poisonShare = options.poison ?? DEFAULT_POISON;
  const duplicatesShare = options.duplicates ?? DEFAULT_DUPLICATES;
  const stateDir = `.local-cloud/chaos-${randomUUID().slice(0, 8)}`;
  const requestDeadlineMs = options.requestDeadlineMs ?? DEFAULT_QUOTES_DEADLINE_MS;
  const quotes = quotesChannel(requestDeadlineMs);
  const cloud = await startLocalCloud({ cdkOut: synthesizeChaos(`${stateDir}/cdk.out`, quotes), stateDir, sharedDynamoDb: options.sharedDynamoDb });
  const client = await createClient({ target: 'local', localStateDir: stateDir, stackName: 'Chaos', channels: { ...chaosChannels, chaosQuotes: quotes }, topics: chaosTopics });
  const table = client.output(OutputKey.stateTableName);
  try {
    await setFaults(client, table, { enabled: true, ...mix });
    const sent = new Map<GuaranteedKind, { messages: SentMessage[]; duplicatesSent: number }>();
    await Promise.all(
      firstHops.map(async (kind) => {
        // An exact number of poison messages, at random places: a short run is sure to meet some.
        const poisonAt = new Set<number>();
        while (poisonAt.size < Math.round(options.messages * poisonShare)) poisonAt.add(Math.floor(Math.random() * options.messages));
        const messages = Array.from({ length: options.messages }, (_, index): SentMessage => ({
          id: `${kind}-${index}`,
          poison: poisonAt.has(index),
          ...(kind === 'fifo' ? { group: `g-${Math.floor(index / FIFO_GROUP_SIZE)}`, seq: index % FIFO_GROUP_SIZE } : {}),
        }));
        sent.set(kind, { messages, duplicatesSent: await sendWithDuplicates(kind === 'flow' ? publisherOf(client) : senderTo(client, guaranteedChannels[kind].name), messages, duplicatesShare) });
        await drained(client, guaranteedChannels[kind].name);
      }),
    );
    if (kinds.includes('flow')) {
      const published = sent.get('flow')!;
      sent.set('shipping', { messages: published.messages.map((message) => ({ ...message, id: `shipped-${message.id}` })), duplicatesSent: published.duplicatesSent });
      sent.set('ledger', { messages: published.messages.map(sentOnToLedger), duplicatesSent: 0 });
      for (const hop of ['shipping', 'ledger'] as const) await drained(client, guaranteedChannels[hop].name);
      await drained(client, chaosAnnounced.name);
    }
    const before = await snapshot(client, table);
    const deadLetterCopies = new Map<GuaranteedKind, number>();
    for (const kind of kinds) deadLetterCopies.set(kind, await queueDepth(client.sqs, client.output(OutputKey.deadLetterQueueUrl(guaranteedChannels[kind].name))));
    log(`drained ${kinds.join(', ')}; dead letters ${[...deadLetterCopies.values()].join(', ')}; faults off, redriving…`);

    await setFaults(client, table, { enabled: false, ...mix });
    // Fire-and-forget and request-response run beside the redrive: their channels and faults are their own, and what
    // is left to slow them is the redriven dead letters, a small load next to the drained backlog (in the long run, a
    // few live notices expire before a consumer reaches them and are dropped, as their policy says).
    const redriven = new Map<GuaranteedKind, number>();
    const [notices, requests] = await Promise.all([
      phases.includes('fire-and-forget') ? noticesUnderExpiry(client, table, options.notices ?? 200) : undefined,
      phases.includes('request-response') ? requestsUnderFaults(client, options.requests ?? 100, requestDeadlineMs) : undefined,
      ...firstHops.map(async (kind) => {
        const hops: readonly GuaranteedKind[] = kind === 'flow' ? FLOW_HOPS : [kind];
        for (const hop of hops) {
          redriven.set(hop, (await redriveDeadLetters(client, guaranteedChannels[hop].name)).moved);
          await drained(client, guaranteedChannels[hop].name);
        }
      }),
    ]);
    const after = await snapshot(client, table);
    // The invocations whose instance the local cloud killed (a timeout) or saw die (a crash).
    const killedInvocations = new Set([...cloud.functions.values()].flatMap((fn) => [...fn.killedInvocations]));
    const guaranteed = kinds.map((kind) =>
      reconcile(kind, sent.get(kind)!, before, after, { deadLetterCopies: deadLetterCopies.get(kind)!, redriven: redriven.get(kind)! }, killedInvocations),
    );
    // Before the redrive, the ledger can only have what the flow's hop applied: the rest is sent on after it.
    const ledger = guaranteed.findIndex((report) => report.kind === 'ledger');
    if (ledger >= 0) {
      const causeApplied = new Set(sent.get('flow')!.messages.filter((message) => (before.applied.get(message.id)?.applied ?? 0) > 0).map(sentOnToLedger).map((message) => message.id));
      const missing = sent.get('ledger')!.messages.filter(
        (message) => causeApplied.has(message.id) && !before.applied.get(message.id) && before.lifecycles.get(recordKey('ledger', message))?.status !== 'dead-lettered',
      );
      // A cause whose record still holds its outbox went to the DLQ applied, its onward message unsent (SQS's receive
      // backstop moved it while its sends kept failing): the redrive sends it. Explained, and counted apart.
      const causeOf = new Map(sent.get('flow')!.messages.map((message) => [sentOnToLedger(message).id, message]));
      const heldForRedrive = missing.filter((message) => before.lifecycles.get(recordKey('flow', causeOf.get(message.id)!))?.outbox !== undefined).length;
      guaranteed[ledger] = { ...guaranteed[ledger]!, unaccounted: missing.length - heldForRedrive, heldForRedrive };
    }

    const announced = kinds.includes('flow') ? fireAndForgetSubscriber(sent.get('flow')!, after) : undefined;
    return { guaranteed, announced, notices, requests, mix, poisonShare, duplicatesShare, wallSeconds: Math.round((Date.now() - started) / 100) / 10 };
  } finally {
    client.destroy();
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** How a run puts messages in: a batch of up to 10, and one again under its correlation id (a duplicate). */
interface Sender {
  batch(payloads: object[], groupId: string | undefined): Promise<{ accepted: { correlationId: string }[]; rejected: { message: string }[] }>;
  again(payload: object, correlationId: string, groupId: string | undefined): Promise<unknown>;
}

const senderTo = (client: MessagingClient, channel: string): Sender => ({
  batch: (payloads, groupId) => client.sendBatch(channel, payloads, { groupId }),
  again: (payload, correlationId, groupId) => client.send(channel, payload, { correlationId, groupId }),
});

/** The flow's messages are published to its topic, and a duplicate published again under the same key. */
const publisherOf = (client: MessagingClient): Sender => ({
  batch: (events) => client.publishBatch(chaosPlaced.name, events),
  again: (event, correlationId) => client.publish(chaosPlaced.name, event, { idempotencyKey: correlationId }),
});

/** The ledger's message for a flow message: what its subscriber sends on, under the id derived from the event's. */
function sentOnToLedger(message: SentMessage): SentMessage {
  const cause = { channel: chaosFlow.name, correlationId: message.correlationId!, flowId: message.correlationId! };
  return { id: `ledger-${message.id}`, poison: false, correlationId: onwardId(cause, 0) };
}

/**
 * Sends the messages in batches of 10, four batches at a time, and a share of them a second time under the same
 * correlation id. A FIFO group's batches go one after another, so that its order is the order of `seq`.
 */
async function sendWithDuplicates(sender: Sender, messages: SentMessage[], duplicatesShare: number): Promise<number> {
  // FIFO groups are consecutive runs of FIFO_GROUP_SIZE messages.
  const fifo = messages[0]?.group !== undefined;
  const runs = fifo ? chunks(messages, FIFO_GROUP_SIZE).map((group) => chunks(group, 10)) : chunks(messages, 10).map((batch) => [batch]);
  let duplicatesSent = 0;
  await inParallel(runs.length, 4, async (index) => {
    for (const batch of runs[index]!) {
      const groupId = batch[0]!.group;
      const payloads = batch.map(({ correlationId: _, ...message }) => ({ ...message, sentAt: Date.now() }));
      const { accepted: acks, rejected } = await sender.batch(payloads, groupId);
      if (rejected.length > 0) throw new Error(`${rejected.length} messages refused: ${rejected[0]!.message}`);
      acks.forEach((ack, offset) => (batch[offset]!.correlationId = ack.correlationId));
      for (const [offset, payload] of payloads.entries()) {
        if (Math.random() < duplicatesShare) {
          await sender.again(payload, acks[offset]!.correlationId, groupId);
          duplicatesSent += 1;
        }
      }
    }
  });
  return duplicatesSent;
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
  /** Outside effects: a token per application. */
  readonly effects?: Set<string>;
}

interface Snapshot {
  /** Application counters by message id. */
  readonly applied: Map<string, AppliedCount>;
  /** Lifecycle records by channel and correlation id (`<channel>#<id>`: an event's subscribers share its id). */
  readonly lifecycles: Map<string, LifecycleRecord>;
  /** Each FIFO group's places, in the order its effects were applied. */
  readonly groupOrders: Map<string, number[]>;
  /** Deliveries an invocation reported failed, as `<invocation>/<message id>`. */
  readonly gaveUp: Set<string>;
}

/** What the handlers left in the state table, and the runtime in the lifecycle table. */
async function snapshot(client: MessagingClient, table: string): Promise<Snapshot> {
  const taken: Snapshot = { applied: new Map(), lifecycles: new Map(), groupOrders: new Map(), gaveUp: new Set() };
  for (const item of await scan(client, table)) {
    const [prefix, key] = String(item.pk).split(/#(.*)/s) as [string, string];
    if (prefix === 'applied') taken.applied.set(key, item as unknown as AppliedCount);
    else if (prefix === 'group') taken.groupOrders.set(key, item.applied as number[]);
    else if (prefix === 'unfinished') for (const messageId of item.messageIds as string[]) taken.gaveUp.add(`${key}/${messageId}`);
  }
  for (const item of await scan(client, client.output(OutputKey.lifecycleTableName))) {
    const record = item as unknown as LifecycleRecord;
    taken.lifecycles.set(`${record.channel}#${record.correlationId}`, record);
  }
  return taken;
}

/** Every item of a table, page after page. */
async function scan(client: MessagingClient, table: string, filter: Partial<ScanCommandInput> = {}): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true, ...filter }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** One channel's messages against what the table says happened to them, before and after the redrive. */
function reconcile(
  kind: GuaranteedKind,
  { messages, duplicatesSent }: { messages: SentMessage[]; duplicatesSent: number },
  before: Snapshot,
  after: Snapshot,
  queues: { deadLetterCopies: number; redriven: number },
  killedInvocations: ReadonlySet<string>,
): GuaranteedReport {
  const count = (predicate: (message: SentMessage) => boolean) => messages.filter(predicate).length;
  const appliedBefore = (message: SentMessage) => before.applied.get(message.id)?.applied ?? 0;
  const appliedAfter = (message: SentMessage) => after.applied.get(message.id)?.applied ?? 0;
  const recordBefore = (message: SentMessage) => before.lifecycles.get(recordKey(kind, message));
  const deadLettered = messages.filter((message) => recordBefore(message)?.status === 'dead-lettered');
  const poison = messages.filter((message) => message.poison);

  // An application beyond the first is excused only if its attempt may never have reached its completion: the
  // invocation that received the delivery was killed (a crash, a timeout) or gave up on it (the batch deadline).
  let repeats = 0;
  let repeatsInCrashWindow = 0;
  for (const message of messages) {
    const applied = after.applied.get(message.id);
    if (!applied || applied.applied < 2) continue;
    repeats += applied.applied - 1;
    const completed = (after.lifecycles.get(recordKey(kind, message))?.reply as { effect?: string } | undefined)?.effect;
    const interrupted = [...(applied.effects ?? [])].filter(
      (effect) => effect !== completed && unfinished(effect, killedInvocations, after.gaveUp),
    );
    repeatsInCrashWindow += Math.min(interrupted.length, applied.applied - 1);
  }

  const groups = [...new Set(messages.flatMap((message) => (message.group ? [message.group] : [])))];
  const outOfOrder = groups
    .map((group) => before.groupOrders.get(group) ?? [])
    .reduce((total, order) => total + order.filter((seq, index) => index > 0 && seq <= order[index - 1]!).length, 0);

  const latencies = messages
    .map((message) => before.applied.get(message.id))
    .flatMap((applied) => (applied ? [applied.firstAppliedAt - applied.sentAt] : []))
    .sort((a, b) => a - b);
  return {
    kind,
    sent: messages.length,
    duplicatesSent,
    poison: poison.length,
    appliedOnceBeforeRedrive: count((message) => appliedBefore(message) === 1),
    deadLettered: deadLettered.length,
    deadLetteredWithReason: deadLettered.filter((message) => Boolean(recordBefore(message)?.reason)).length,
    deadLetterCopies: queues.deadLetterCopies,
    unaccounted: count((message) => appliedBefore(message) === 0 && recordBefore(message)?.status !== 'dead-lettered'),
    poisonDeadLettered: poison.filter((message) => recordBefore(message)?.status === 'dead-lettered' && /PermanentError/.test(recordBefore(message)?.reason ?? '')).length,
    // An outside attempt's claim comes first in the history, then its end.
    poisonDeadLetteredOnFirstReceive: poison.filter((message) => recordBefore(message)?.history.find((event) => event.status === 'dead-lettered')?.attempt === 1).length,
    redriven: queues.redriven,
    redrivenApplied: deadLettered.filter((message) => appliedAfter(message) > 0).length,
    lost: count((message) => appliedAfter(message) === 0),
    appliedTwice: count((message) => appliedAfter(message) > 1),
    repeats,
    repeatsInCrashWindow,
    groups: groups.length,
    outOfOrder,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

function recordKey(kind: GuaranteedKind, message: SentMessage): string {
  return `${guaranteedChannels[kind].name}#${message.correlationId!}`;
}

function fireAndForgetSubscriber({ messages }: { messages: SentMessage[] }, after: Snapshot): AnnouncedReport {
  const counts = messages.map((message) => after.applied.get(`announced-${message.id}`)?.applied ?? 0);
  return { published: messages.length, delivered: counts.filter((count) => count > 0).length, deliveredAgain: counts.filter((count) => count > 1).length };
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
  const notices = (await scan(client, table, { FilterExpression: 'begins_with(pk, :notice)', ExpressionAttributeValues: { ':notice': 'notice#' } })) as {
    pk: string;
    decidedAt: number | null;
    expiresAt: number;
  }[];
  return {
    sent: count,
    expiredSent: expiredCount,
    applied: notices.length,
    // Applied means the runtime found the notice live: its check must have read a time before the expiry.
    appliedAfterExpiry: notices.filter((notice) => notice.decidedAt === null || notice.decidedAt >= notice.expiresAt).length,
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

/** What the run must show: nothing lost, nothing repeated outside a crash window, every dead letter explained. */
export function chaosViolations(report: ChaosReport): string[] {
  const violations: string[] = [];
  const check = (holds: boolean, violation: string) => holds || violations.push(violation);
  for (const channel of report.guaranteed) {
    const { kind } = channel;
    check(channel.lost === 0, `${kind}: ${channel.lost} lost`);
    check(channel.unaccounted === 0, `${kind}: ${channel.unaccounted} neither applied nor dead-lettered once drained`);
    check(channel.deadLetteredWithReason === channel.deadLettered, `${kind}: ${channel.deadLettered - channel.deadLetteredWithReason} dead-lettered without a reason`);
    check(channel.poisonDeadLettered === channel.poison, `${kind}: ${channel.poison - channel.poisonDeadLettered} poison messages not dead-lettered as such`);
    check(channel.redrivenApplied === channel.deadLettered, `${kind}: ${channel.deadLettered - channel.redrivenApplied} dead letters not applied after the redrive`);
    check(channel.outOfOrder === 0, `${kind}: ${channel.outOfOrder} effects applied out of their group's order`);
    if (kind === 'outside' || kind === 'shipping') check(channel.repeats === channel.repeatsInCrashWindow, `${kind}: ${channel.repeats - channel.repeatsInCrashWindow} effects repeated after an attempt that completed (no crash, timeout or cut-off between the effect and its completion)`);
    else check(channel.appliedTwice === 0, `${kind}: ${channel.appliedTwice} applied twice`);
  }
  if (report.notices) {
    check(report.notices.appliedAfterExpiry === 0, `fire-and-forget: ${report.notices.appliedAfterExpiry} notices applied after their expiry`);
    check(report.notices.expiredApplied === 0, `fire-and-forget: ${report.notices.expiredApplied} notices sent expired were applied`);
  }
  // An answer is proof of time: past the deadline the SDK rejects with DeadlineExceeded instead.
  if (report.requests) check(report.requests.answered === report.requests.sent, `request-response: ${report.requests.sent - report.requests.answered} requests unanswered within the deadline`);
  return violations;
}

/** The report as the table README shows: a row group per channel kind. */
export function formatChaosReport(report: ChaosReport): string {
  const { mix } = report;
  const rows: [string, string | number][] = [
    ['fault mix', `per attempt: transient ${mix.transient * 100}%, past timeout ${mix.slow * 100}%, crash mid-batch ${mix.crash * 100}%; per message: poison ${report.poisonShare * 100}%, sent twice ${report.duplicatesShare * 100}%`],
  ];
  for (const channel of report.guaranteed) {
    rows.push(
      [`**${channel.kind}**`, `${channel.sent} sent, ${channel.duplicatesSent} of them twice, ${channel.poison} poison${channel.kind === 'fifo' ? `, ${channel.groups} groups` : ''}`],
      ['applied exactly once before the redrive', channel.appliedOnceBeforeRedrive],
      ['dead-lettered / with a reason / copies in the DLQ', `${channel.deadLettered} / ${channel.deadLetteredWithReason} / ${channel.deadLetterCopies}`],
      ['poison dead-lettered / on first receive', `${channel.poisonDeadLettered} of ${channel.poison} / ${channel.poisonDeadLetteredOnFirstReceive}`],
      ['neither applied nor dead-lettered once drained', channel.unaccounted],
      ...(channel.heldForRedrive === undefined ? [] : [['sent on only after the redrive (its cause in the DLQ, outbox unsent)', channel.heldForRedrive] as [string, number]]),
      ['redriven with faults off / dead letters then applied', `${channel.redriven} / ${channel.redrivenApplied} of ${channel.deadLettered}`],
      ['**lost**', channel.lost],
      channel.kind === 'outside' || channel.kind === 'shipping'
        ? ['**applied twice** / repeats / of them after an attempt that did not complete', `${channel.appliedTwice} / ${channel.repeats} / ${channel.repeatsInCrashWindow}`]
        : ['**applied twice**', channel.appliedTwice],
      ...(channel.kind === 'fifo' ? [['**out of group order**', channel.outOfOrder] as [string, number]] : []),
      ['send → applied p50 / p99', `${channel.p50Ms} ms / ${channel.p99Ms} ms`],
    );
  }
  if (report.announced) {
    const { announced } = report;
    rows.push(['**fire-and-forget subscriber** (chaosAnnounced): delivered / more than once', `${announced.delivered} of ${announced.published} published / ${announced.deliveredAgain}`]);
  }
  if (report.notices) {
    const { notices } = report;
    rows.push(['**fire-and-forget**: applied / after expiry / expired applied', `${notices.applied} of ${notices.sent} live / ${notices.appliedAfterExpiry} / ${notices.expiredApplied} of ${notices.expiredSent}`]);
  }
  if (report.requests) {
    const { requests } = report;
    rows.push([
      `**request-response** (deadline ${requests.deadlineMs} ms): answered / by fallback / over deadline by wall clock (max)`,
      `${requests.answered} of ${requests.sent} / ${requests.byFallback} / ${requests.overDeadline} (${requests.maxElapsedMs} ms)`,
    ]);
  }
  rows.push(['wall time', `${report.wallSeconds} s`]);
  return ['| measure | value |', '|---|---|', ...rows.map(([name, value]) => `| ${name} | ${value} |`)].join('\n');
}
