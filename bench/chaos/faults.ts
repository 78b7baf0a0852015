import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ConsumerClients } from '../../functions/runtime/index.ts';
import { FAULT_SWITCH_KEY, type FaultMix } from './channels.ts';

const OFF: FaultMix = { enabled: false, transient: 0, slow: 0, crash: 0 };
let cached: { mix: FaultMix; readAt: number } | undefined;

/** The current fault mix, re-read at most every half second (one GetItem per batch or so, not per message). */
export async function faultMix(clients: ConsumerClients, tableName: string): Promise<FaultMix> {
  if (cached && Date.now() - cached.readAt < 500) return cached.mix;
  const { Item } = await clients.dynamo.send(new GetCommand({ TableName: tableName, Key: FAULT_SWITCH_KEY, ConsistentRead: true }));
  cached = { mix: (Item?.mix as FaultMix | undefined) ?? OFF, readAt: Date.now() };
  return cached.mix;
}
