import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { PermanentError, type ConsumerClients } from '../../functions/runtime/index.ts';
import { ChaosKeys, FAULT_SWITCH_KEY, type FaultMix } from './channels.ts';

const OFF: FaultMix = { enabled: false, transient: 0, slow: 0, crash: 0 };
let cached: { mix: FaultMix; readAt: number } | undefined;
/** The invocation this instance is running (one at a time, as in Lambda), as effects and crash markers name it. */
let invocation: string = randomUUID();

/** The Lambda handler, with each invocation given its own name. */
export function namingInvocations<Event, Context, Result>(handler: (event: Event, context?: Context) => Promise<Result>) {
  return (event: Event, context?: Context): Promise<Result> => {
    invocation = randomUUID();
    return handler(event, context);
  };
}

/**
 * A name for an outside effect about to be applied, which says in which invocation it was: if that invocation
 * crashes, every effect of it that did not complete was interrupted between the effect and its completion. The batch
 * deadline may return an invocation before all its records end; here only stalled records outlive it, and they stall
 * before their effect.
 */
export function nameEffect(): string {
  return `${invocation}/${randomUUID()}`;
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

/** Ends this instance as a crash would, every record of its batch with it, leaving a marker that names its invocation. */
export async function crashInstance(clients: ConsumerClients, tableName: string): Promise<never> {
  await clients.dynamo.send(new PutCommand({ TableName: tableName, Item: ChaosKeys.crash(invocation) }));
  process.exit(1);
}
