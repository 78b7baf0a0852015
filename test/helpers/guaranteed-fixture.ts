import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { GuaranteedConsumer, LifecycleStore, type HandlerOutcome, type MessageContext } from '../../functions/runtime/index.ts';
import { defineChannel, resolvePolicy, type GuaranteedPolicyInput } from '../../lib/policy/index.ts';
import type { RuntimeHarness } from './runtime-harness.ts';

export const schema = z.object({ id: z.string(), fail: z.boolean().optional() });
export type Payload = z.infer<typeof schema>;

/** GuaranteedConsumers on fresh queue pairs of one harness, and the reads their tests check them with. */
export function guaranteedFixture(harness: RuntimeHarness) {
  /** A channel on a fresh queue pair, consumed by `handle`. */
  async function consumerFor(
    policyInput: Omit<GuaranteedPolicyInput, 'kind'>,
    handle: (payload: Payload, context: MessageContext) => Promise<HandlerOutcome>,
    options: { clock?: () => number; standardQueue?: boolean; clients?: ConstructorParameters<typeof GuaranteedConsumer>[0]['clients'] } = {},
  ) {
    const policy = resolvePolicy('tests', { kind: 'guaranteed', ...policyInput });
    const pair = await harness.queuePair({ maxReceiveCount: policy.maxReceiveCount, fifo: policy.fifo && !options.standardQueue });
    const channel = defineChannel('tests', { policy, schema });
    const consumer = new GuaranteedConsumer({
      channel,
      handle,
      policy,
      endpoints: { tableName: harness.tableName, lifecycleTableName: harness.lifecycleTableName, queueUrl: pair.queueUrl, deadLetterQueueUrl: pair.deadLetterQueueUrl },
      clients: options.clients ?? { sqs: harness.sqs, dynamo: harness.dynamo },
      clock: options.clock,
    });
    const deliver = async (count: number) => consumer.processBatch(harness.event(await harness.receive(pair.queueUrl, count), pair.queueArn));
    return { consumer, pair, deliver, policy };
  }

  /** The effect whose count proves exactly-once: one counter item per message. */
  function countApplication(id: string, tableName: string) {
    return { Update: { TableName: tableName, Key: { pk: `applied#${id}`, sk: 'count' }, UpdateExpression: 'ADD applied :one', ExpressionAttributeValues: { ':one': 1 } } };
  }

  async function appliedCount(id: string): Promise<number | undefined> {
    const { Item } = await harness.dynamo.send(new GetCommand({ TableName: harness.tableName, Key: { pk: `applied#${id}`, sk: 'count' }, ConsistentRead: true }));
    return Item?.applied as number | undefined;
  }

  const store = () => new LifecycleStore(harness.dynamo, harness.lifecycleTableName);
  const lifecycle = (correlationId: string) => store().get(correlationId, 'tests');

  return { consumerFor, countApplication, appliedCount, lifecycle, store };
}
