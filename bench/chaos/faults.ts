import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { PermanentError, type ConsumerClients } from '../../functions/runtime/index.ts';
import { ChaosKeys, FAULT_SWITCH_KEY, type FaultMix } from './channels.ts';

const OFF: FaultMix = { enabled: false, transient: 0, slow: 0, crash: 0 };
let cached: { mix: FaultMix; readAt: number } | undefined;
/** The invocation this instance is running (one at a time, as in Lambda): its request id. */
let invocation: string = randomUUID();
/**
 * Outside effects this instance applied whose record has not ended as far as it knows, by the message they are for.
 * A record the batch response reports done has ended; one reported failed may still run (the batch deadline cut it
 * off), so its effect stays here until the instance ends.
 */
const effectsInFlight = new Map<string, string>();

/**
 * The Lambda handler, with each invocation named by its request id (the local cloud reports those whose instance
 * it killed) and the effects of the records it finished no longer in flight. An effect whose record the response
 * reports failed did not complete in this invocation: the runtime gave up on it (the batch deadline cut it off, or its
 * completion failed), and a redelivery may apply it again once its lease runs out. A marker lists those.
 */
export function trackingInvocations<Event, Result extends { batchItemFailures: { itemIdentifier: string }[] }>(
  clients: ConsumerClients,
  tableName: () => string,
  handler: (event: Event, context?: Context) => Promise<Result>,
) {
  return async (event: Event, context?: Context): Promise<Result> => {
    invocation = context?.awsRequestId ?? randomUUID();
    const result = await handler(event, context);
    const failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
    const abandoned = [...effectsInFlight].filter(([, messageId]) => failed.has(messageId)).map(([effect]) => effect);
    for (const [effect, messageId] of effectsInFlight) if (!failed.has(messageId)) effectsInFlight.delete(effect);
    if (abandoned.length > 0) await markUnfinished(clients, tableName(), 'abandoned', abandoned);
    return result;
  };
}

/** Records effects whose attempt did not reach its completion, and why: the only ones that may be applied again. */
async function markUnfinished(clients: ConsumerClients, tableName: string, why: 'crash' | 'abandoned', effects: readonly string[]): Promise<void> {
  await clients.dynamo.send(new PutCommand({ TableName: tableName, Item: { ...ChaosKeys.unfinished(`${invocation}#${why}`), why, effects } }));
}

/**
 * Names an outside effect about to be applied (before it is, so that no crash can fall between the two) by the
 * invocation it is applied in, and counts it in flight until its record ends.
 */
export function nameEffect(messageId: string): string {
  const effect = `${invocation}/${randomUUID()}`;
  effectsInFlight.set(effect, messageId);
  return effect;
}

export function invocationOf(effect: string): string {
  return effect.split('/')[0]!;
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
  if (roll < crash) await crashInstance(clients, tableName);
  if (roll < crash + mix.slow) await new Promise((resolve) => setTimeout(resolve, 5000));
  if (roll < crash + mix.slow + mix.transient) throw new Error('transient fault');
  return mix;
}

/**
 * Ends this instance as a crash would, every record it runs with it. The local cloud reports the invocation as
 * killed; the marker names the effects of records an earlier invocation left running, which die here too.
 */
export async function crashInstance(clients: ConsumerClients, tableName: string): Promise<never> {
  if (effectsInFlight.size > 0) await markUnfinished(clients, tableName, 'crash', [...effectsInFlight.keys()]);
  process.exit(1);
}
