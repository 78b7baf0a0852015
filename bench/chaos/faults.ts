import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { endpointsFromEnv, PermanentError, type ConsumerClients } from '../../functions/runtime/index.ts';
import { ChaosKeys, FAULT_SWITCH_KEY, type FaultMix } from './channels.ts';

const OFF: FaultMix = { enabled: false, transient: 0, slow: 0, crash: 0 };
let cached: { mix: FaultMix; readAt: number } | undefined;
/**
 * The invocation (its Lambda request id) that received each delivery this instance runs, by receipt handle. A record
 * may outlive its invocation (the batch deadline reports it failed while it still runs), so its effect is named by
 * the invocation that received it, not by whichever runs when the effect is applied.
 */
const invocationOfDelivery = new Map<string, string>();

/**
 * The Lambda handler, recording which invocation received each delivery. The local cloud reports the invocations
 * whose instance it killed (a crash, a timeout); a marker lists the deliveries an invocation reported failed, which
 * the runtime gave up on and which may still apply their effect after a redelivery took over.
 */
export function trackingInvocations<Result extends { batchItemFailures: { itemIdentifier: string }[] }>(
  clients: ConsumerClients,
  handler: (event: SQSEvent, context?: Context) => Promise<Result>,
) {
  return async (event: SQSEvent, context?: Context): Promise<Result> => {
    const invocation = context?.awsRequestId ?? randomUUID();
    for (const record of event.Records) invocationOfDelivery.set(record.receiptHandle, invocation);
    const result = await handler(event, context);
    const failed = result.batchItemFailures.map((failure) => failure.itemIdentifier);
    for (const record of event.Records) if (!failed.includes(record.messageId)) invocationOfDelivery.delete(record.receiptHandle);
    if (failed.length > 0) {
      await clients.dynamo.send(new PutCommand({ TableName: endpointsFromEnv().tableName, Item: { ...ChaosKeys.unfinished(invocation), messageIds: failed } }));
    }
    return result;
  };
}

/** Names an outside effect by the invocation that received its delivery, the delivery's message id, and itself. */
export function nameEffect(record: SQSRecord): string {
  return [invocationOfDelivery.get(record.receiptHandle) ?? 'unknown', record.messageId, randomUUID()].join('/');
}

/** Whether an effect's application may not have completed: its invocation was killed, or gave up on its delivery. */
export function unfinished(effect: string, killedInvocations: ReadonlySet<string>, gaveUp: ReadonlySet<string>): boolean {
  const [invocation, messageId] = effect.split('/') as [string, string];
  return killedInvocations.has(invocation) || gaveUp.has(`${invocation}/${messageId}`);
}

/** The current fault mix, re-read at most every half second (one GetItem per batch or so, not per message). */
export async function faultMix(clients: ConsumerClients, tableName: string): Promise<FaultMix> {
  if (cached && Date.now() - cached.readAt < 500) return cached.mix;
  const { Item } = await clients.dynamo.send(new GetCommand({ TableName: tableName, Key: FAULT_SWITCH_KEY, ConsistentRead: true }));
  cached = { mix: (Item?.mix as FaultMix | undefined) ?? OFF, readAt: Date.now() };
  return cached.mix;
}

/**
 * The faults an attempt meets before its effect, while the switch is on: poison fails for good; then, by one roll,
 * a crash of the whole instance (`crashShare` of the mix's crash share), a stall past the function's timeout, or a
 * transient error. Returns the mix, for a handler that injects more after its effect.
 */
export async function faultsBeforeEffect(clients: ConsumerClients, tableName: string, message: { id: string; poison: boolean }, crashShare = 1): Promise<FaultMix> {
  const mix = await faultMix(clients, tableName);
  if (!mix.enabled) return mix;
  if (message.poison) throw new PermanentError(`poison message ${message.id}`);
  const roll = Math.random();
  const crash = mix.crash * crashShare;
  if (roll < crash) crashInstance();
  if (roll < crash + mix.slow) await new Promise((resolve) => setTimeout(resolve, 5000));
  if (roll < crash + mix.slow + mix.transient) throw new Error('transient fault');
  return mix;
}

/** Ends this instance as a crash would, every record it runs with it; the local cloud reports the invocation killed. */
export function crashInstance(): never {
  process.exit(1);
}
