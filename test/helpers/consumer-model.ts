import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { GuaranteedConsumer, LifecycleStore, type HandlerOutcome } from '../../functions/runtime/index.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { defineChannel, MessageAttribute, OutputKey, resolvePolicy, type EffectKind } from '../../lib/policy/index.ts';
import { onwardId } from '../../functions/runtime/onward.ts';
import { schema, type Payload } from './guaranteed-fixture.ts';
import type { RuntimeHarness } from './runtime-harness.ts';

/**
 * A model-based test of the guaranteed consumer: generated schedules of deliveries of one message (or, for FIFO,
 * two of one group), each sent on to another channel after its commit, against real DynamoDB Local and fauxqs, with
 * faults injected into the consumer's own SDK calls (the onward sends and the outbox's included)
 * and into its handler. Deliveries in one wave run concurrently (a visibility timeout that expired mid-attempt);
 * between waves the clock may jump past the lease. A crash is a delivery that stops dead at a point, never
 * answering, as a killed function would. Afterwards fault-free deliveries settle the message, the DLQ copies are
 * redriven, and the properties are checked.
 */
export type ModelKind = 'transactional' | 'outside' | 'fifo';

type CallFault = 'fail-before' | 'fail-after' | 'crash-before' | 'crash-after';
/**
 * 'stall-…': the attempt runs on into the next wave, as a duplicate delivery of the same message (SQS's at-least-once)
 * overlapping the others does; if that wave's clock jumps past the lease, the function's timeout has killed it.
 */
type HandlerStep = 'ok' | 'throw' | 'crash-before-effect' | 'crash-after-effect' | 'stall-then-ok' | 'stall-then-throw';

interface DeliveryPlan {
  readonly handler: HandlerStep;
  /** The one SDK call of this delivery (counted from 0) that meets a fault. */
  readonly fault?: { readonly atCall: number; readonly kind: CallFault };
}

interface Wave {
  readonly deliveries: readonly DeliveryPlan[];
  readonly clockJumpsPastLease: boolean;
}

const LEASE_SECONDS = 6;
const MAX_ATTEMPTS = 3;

const deliveryPlan: fc.Arbitrary<DeliveryPlan> = fc.record(
  {
    handler: fc.constantFrom<HandlerStep>('ok', 'ok', 'throw', 'crash-before-effect', 'crash-after-effect', 'stall-then-ok', 'stall-then-throw'),
    fault: fc.record({ atCall: fc.nat(6), kind: fc.constantFrom<CallFault>('fail-before', 'fail-after', 'crash-before', 'crash-after') }),
  },
  { requiredKeys: ['handler'] },
);

export const schedules: fc.Arbitrary<Wave[]> = fc.array(
  fc.record({ deliveries: fc.array(deliveryPlan, { minLength: 1, maxLength: 3 }), clockJumpsPastLease: fc.boolean() }),
  { minLength: 1, maxLength: 4 },
);

/** What one delivery did, as the fault injector saw it. */
class Delivery {
  public calls = 0;
  public effectDone = false;
  public completed = false;
  /** The delivery died, or a fault hit its completing call, after its outside effect: the one window for a repeat. */
  public inCrashWindow = false;
  public crashed = false;
  readonly #onCrash: () => void;
  public readonly crash: Promise<'crashed'>;
  public readonly plan: DeliveryPlan;
  /** Resolves when the next wave begins, after its clock jump; a stalled handler waits for it. */
  public readonly nextWave: Promise<'within-lease' | 'past-lease'>;

  public constructor(plan: DeliveryPlan, nextWave: Promise<'within-lease' | 'past-lease'>) {
    this.plan = plan;
    this.nextWave = nextWave;
    let signal!: () => void;
    this.crash = new Promise((resolve) => (signal = () => resolve('crashed')));
    this.#onCrash = signal;
  }

  /** Stops this delivery dead: the promise it is awaiting never settles. */
  public die(): Promise<never> {
    if (this.effectDone && !this.completed) this.inCrashWindow = true;
    this.crashed = true;
    this.#onCrash();
    return new Promise(() => {});
  }
}

const current = new AsyncLocalStorage<Delivery>();

/** Adds the injector to a client: the faulted call fails (transiently) or crashes, before or after it reached the service. */
function injectFaults(client: SQSClient | DynamoDBClient): void {
  const stack = client.middlewareStack as { add: (middleware: unknown, options: object) => void };
  stack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const delivery = current.getStore();
      if (!delivery) return next(args);
      const fault = delivery.plan.fault?.atCall === delivery.calls++ ? delivery.plan.fault.kind : undefined;
      const completing = delivery.effectDone && context.commandName === 'TransactWriteItemsCommand';
      if (fault === 'fail-before' && completing) delivery.inCrashWindow = true;
      if (fault === 'fail-before') throw Object.assign(new Error('injected throttle'), { name: 'ThrottlingException', $metadata: {} });
      if (fault === 'crash-before') return delivery.die();
      const result = await next(args);
      if (completing) delivery.completed = true;
      if (fault === 'fail-after') throw Object.assign(new Error('injected lost answer'), { name: 'TimeoutError', $metadata: {} });
      if (fault === 'crash-after') return delivery.die();
      return result;
    },
    { step: 'initialize', name: 'modelFaults' },
  );
}

export interface ModelVerdict {
  readonly violations: readonly string[];
}

/** Runs schedules of one kind against a queue pair of its own. */
export async function modelRunner(harness: RuntimeHarness, kind: ModelKind) {
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
  const sqs = new SQSClient({ ...common, endpoint: await endpointOf(harness.sqs) });
  const raw = new DynamoDBClient({ ...common, endpoint: harness.dynamoEndpoint });
  injectFaults(sqs);
  injectFaults(raw);
  const dynamo = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const effect: EffectKind = kind === 'outside' ? 'outside' : 'transactional';
  const policy = resolvePolicy('model', { kind: 'guaranteed', effect, fifo: kind === 'fifo', timeoutSeconds: 5, leaseSeconds: LEASE_SECONDS, maxAttempts: MAX_ATTEMPTS, backoffBaseSeconds: 1, backoffMaxSeconds: 1 });
  let now = Date.now();
  let sequence = 0;
  let nextWave = gate();
  const outsideEffects = new Map<string, number>();
  // Each message is sent on to a channel of its own after its commit: a crash or fault at any step of the outbox.
  const onward = defineChannel('onward', { policy: { kind: 'guaranteed' }, schema });
  const handle = async ({ id }: Payload, { tableName }: { tableName: string }): Promise<HandlerOutcome<unknown, { channels: { onward: typeof onward }; topics: Record<never, never> }>> => {
      const delivery = current.getStore()!;
      // An attempt cannot outlive its lease in AWS (the lease outlasts the function's timeout): past a clock jump it is killed.
      if (delivery.plan.handler.startsWith('stall') && (await delivery.nextWave) === 'past-lease') return delivery.die();
      if (delivery.plan.handler === 'throw' || delivery.plan.handler === 'stall-then-throw') throw new Error('injected handler failure');
      if (delivery.plan.handler === 'crash-before-effect') return delivery.die();
      sequence += 1;
      if (effect === 'outside') {
        outsideEffects.set(id, (outsideEffects.get(id) ?? 0) + 1);
        delivery.effectDone = true;
      }
      if (delivery.plan.handler === 'crash-after-effect') return delivery.die();
      return {
        writes: [{ Update: { TableName: tableName, Key: { pk: `effect#${id}`, sk: 'model' }, UpdateExpression: 'ADD applied :one SET #order = if_not_exists(#order, :order)', ExpressionAttributeNames: { '#order': 'order' }, ExpressionAttributeValues: { ':one': 1, ':order': sequence } } }],
        send: [{ channel: 'onward', payload: { id } }],
      };
  };

  async function run(schedule: readonly Wave[]): Promise<ModelVerdict> {
    // A queue pair per schedule: the runtime's backoffs make earlier schedules' messages visible again.
    // fauxqs keeps one message of a group in flight; Lambda hands a batch several, so FIFO batches come from a standard queue.
    const [pair, downstream] = await Promise.all([harness.queuePair({ maxReceiveCount: policy.maxReceiveCount }), harness.queuePair({ maxReceiveCount: 1000 })]);
    const consumer = new GuaranteedConsumer({
      channel: defineChannel('model', { policy, schema }),
      policy,
      sendsTo: { onward },
      outputs: { [OutputKey.queueUrl('onward')]: downstream.queueUrl },
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: { sqs, dynamo },
      clock: () => now,
      handle,
    });
    const group = randomUUID();
    const ids = kind === 'fifo' ? [`${group}-1`, `${group}-2`] : [group];
    for (const id of ids) await harness.send(pair.queueUrl, { id }, { correlationId: id });
    const messages = sortedBy(ids, await harness.receive(pair.queueUrl, ids.length));
    const pending = new Set(ids);
    let receives = 0;
    const crashWindows = new Map<string, number>();

    const deliver = async (plan: DeliveryPlan, batch: readonly Message[], receiveCount: number) => {
      const event = harness.event([...batch], pair.queueArn);
      for (const record of event.Records) {
        record.attributes.ApproximateReceiveCount = String(receiveCount);
        if (kind === 'fifo') record.attributes.MessageGroupId = group;
      }
      const delivery = new Delivery(plan, nextWave.opened);
      const outcome = await current.run(delivery, () => Promise.race([consumer.processBatch(event), delivery.crash]));
      if (delivery.inCrashWindow) for (const message of batch) bump(crashWindows, idOf(message));
      if (outcome === 'crashed') return;
      const failed = new Set(outcome.batchItemFailures.map((failure) => failure.itemIdentifier));
      for (const message of batch) if (!failed.has(message.MessageId!)) pending.delete(idOf(message));
    };
    const batchOfPending = () => messages.filter((message) => pending.has(idOf(message)));

    // A stalled delivery is left running into the next wave, and finishes after that wave's clock jump.
    let stalled: Promise<void>[] = [];
    for (const wave of schedule) {
      if (pending.size === 0) break;
      if (wave.clockJumpsPastLease) now += (LEASE_SECONDS + 1) * 1000;
      nextWave.open(wave.clockJumpsPastLease ? 'past-lease' : 'within-lease');
      nextWave = gate();
      const batch = batchOfPending();
      receives += 1;
      const running = wave.deliveries.map((plan) => ({ plan, done: deliver(plan, batch, receives) }));
      await Promise.all([...stalled, ...running.filter(({ plan }) => !plan.handler.startsWith('stall')).map(({ done }) => done)]);
      stalled = running.filter(({ plan }) => plan.handler.startsWith('stall')).map(({ done }) => done);
    }
    nextWave.open('within-lease');
    await Promise.all(stalled);
    // Fault-free deliveries settle it, each after the lease a crashed delivery may have left; the backstop bounds them.
    while (pending.size > 0 && receives <= policy.maxReceiveCount) {
      now += (LEASE_SECONDS + 1) * 1000;
      receives += 1;
      await deliver({ handler: 'ok' }, batchOfPending(), receives);
    }

    const violations: string[] = [];
    if (pending.size > 0) violations.push(`${[...pending].join(', ')} neither applied nor dead-lettered after ${receives} receives`);
    const deadLetters = await drain(pair.deadLetterQueueUrl);
    const store = new LifecycleStore(harness.dynamo, harness.lifecycleTableName);
    const before = new Map(await Promise.all(ids.map(async (id) => [id, await store.get(id, 'model')] as const)));
    for (const [id, record] of before) {
      // One known gap: a duplicate delivery that claims after its sibling dead-lettered the message, then crashes,
      // leaves the record in progress until the redrive (the message itself is safe in the DLQ).
      const inDlq = deadLetters.some((message) => idOf(message) === id);
      const settled = record?.status === 'succeeded' || record?.status === 'dead-lettered' || (record?.status === 'in-progress' && inDlq);
      if (!settled) violations.push(`${id} ended ${record?.status ?? 'without a record'}`);
      if (record?.status === 'dead-lettered' && !deadLetters.some((message) => idOf(message) === id)) violations.push(`${id} is recorded dead-lettered but no DLQ copy exists`);
    }
    for (const message of deadLetters) {
      if (!message.MessageAttributes?.deadLetterReason?.StringValue) violations.push(`a DLQ copy of ${idOf(message)} has no reason`);
    }
    const ordersBefore = await Promise.all(ids.map((id) => effectOf(id)));
    if (kind === 'fifo' && ordersBefore.every((item) => item?.order !== undefined) && deadLetters.length === 0 && ordersBefore[0]!.order > ordersBefore[1]!.order) {
      violations.push('the group was applied out of order');
    }

    // Nothing is sent on for an effect that was not committed.
    const sentBeforeRedrive = (await drain(downstream.queueUrl)).map(onwardCause);
    for (const [id, record] of before) {
      if (record?.status !== 'succeeded' && sentBeforeRedrive.includes(id)) violations.push(`${id} was sent on though its effect is not committed (${record?.status})`);
    }

    // The operator redrives the DLQ with the faults gone: every copy is applied once or is a duplicate.
    // Each copy is delivered until it is applied or found a duplicate, after any lease a crashed delivery left.
    for (const message of deadLetters) {
      pending.add(idOf(message));
      for (let receive = 1; pending.has(idOf(message)) && receive < policy.maxReceiveCount; receive += 1) {
        now += (LEASE_SECONDS + 1) * 1000;
        await deliver({ handler: 'ok' }, [message], receive);
      }
    }
    for (const id of ids) {
      const record = await store.get(id, 'model');
      if (record?.status !== 'succeeded') violations.push(`${id} is ${record?.status} after the redrive`);
      const applied = effect === 'outside' ? outsideEffects.get(id) ?? 0 : (await effectOf(id))?.applied ?? 0;
      const allowed = effect === 'outside' ? 1 + (crashWindows.get(id) ?? 0) : 1;
      if (applied < 1 || applied > allowed) violations.push(`${id} applied ${applied} times (allowed 1${allowed > 1 ? ` to ${allowed}: crashes between effect and completion` : ''})`);
      if (record?.outbox !== undefined) violations.push(`${id} still has onward messages in its outbox`);
    }
    // Every applied message was sent on, under the id derived from it (a resend is the same message downstream).
    const sent = [...sentBeforeRedrive, ...(await drain(downstream.queueUrl)).map(onwardCause)];
    for (const id of ids) if (!sent.includes(id)) violations.push(`${id} was applied but never sent on`);
    return { violations };
  }

  async function effectOf(id: string) {
    const { Item } = await harness.dynamo.send(new GetCommand({ TableName: harness.tableName, Key: { pk: `effect#${id}`, sk: 'model' }, ConsistentRead: true }));
    return Item as { applied: number; order: number } | undefined;
  }

  async function drain(queueUrl: string): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const { Messages = [] } = await harness.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
      if (Messages.length === 0) return all;
      all.push(...Messages);
    }
  }

  return {
    run,
    destroy: () => {
      sqs.destroy();
      raw.destroy();
    },
  };
}

/**
 * Checks `runs` generated schedules of one kind; returns how many ran and the seed, or throws fast-check's report
 * (with the seed and the shrunk schedule that broke a property).
 */
export async function checkModel(harness: RuntimeHarness, kind: ModelKind, options: { runs: number; seed?: number }): Promise<{ explored: number; seed: number }> {
  const runner = await modelRunner(harness, kind);
  const seed = options.seed ?? Date.now() % 2 ** 31;
  let explored = 0;
  try {
    await fc.assert(
      fc.asyncProperty(schedules, async (schedule) => {
        explored += 1;
        const { violations } = await runner.run(schedule);
        if (violations.length > 0) throw new Error(`${kind}: ${violations.join('; ')}`);
      }),
      { numRuns: options.runs, seed, endOnFailure: true },
    );
  } finally {
    runner.destroy();
  }
  return { explored, seed };
}

/** The message an onward message was sent for, checked against the id derived from it. */
function onwardCause(message: Message): string {
  const id = idOf(message);
  const expected = onwardId({ channel: 'model', correlationId: id, flowId: id }, 0);
  return message.MessageAttributes?.[MessageAttribute.correlationId]?.StringValue === expected ? id : `${id} under a wrong id`;
}

function idOf(message: Message): string {
  return (JSON.parse(message.Body!) as Payload).id;
}

function sortedBy(ids: readonly string[], messages: Message[]): Message[] {
  return [...messages].sort((left, right) => ids.indexOf(idOf(left)) - ids.indexOf(idOf(right)));
}

function gate(): { opened: Promise<'within-lease' | 'past-lease'>; open: (how: 'within-lease' | 'past-lease') => void } {
  let open!: (how: 'within-lease' | 'past-lease') => void;
  const opened = new Promise<'within-lease' | 'past-lease'>((resolve) => (open = resolve));
  return { opened, open };
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

async function endpointOf(client: SQSClient): Promise<string> {
  const endpoint = await client.config.endpoint!();
  return `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}${endpoint.path}`;
}
