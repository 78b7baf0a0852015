import { defineChannel, type LifecycleRecord } from 'delivery-policies';
import { createClient, type MessagingClient } from 'delivery-policies/client';
import { startLocalCloud, type LocalCloud } from 'delivery-policies/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { channels, topics } from '../lib/channels.ts';

// The whole app on this machine: `cdk synth`, then DynamoDB Local, an SQS emulator and the functions in workers.
const stateDir = '.local-cloud/test';
let cloud: LocalCloud;
let client: MessagingClient<typeof channels, typeof topics>;

beforeAll(async () => {
  cloud = await startLocalCloud({ stateDir });
  client = await createClient({ channels, topics, target: 'local', localStateDir: stateDir, stackName: 'App' });
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
});

describe('the app on the local cloud', () => {
  it('stores a task once and hands its receipt back later', async () => {
    const acknowledgement = await client.send('tasks', { taskId: 't-1', title: 'write the report' });
    const reply = await client.awaitReply(acknowledgement, { maxWaitTime: 30 });
    expect(reply).toMatchObject({ taskId: 't-1', receipt: expect.stringMatching(/^R-/) });
  });

  it('announces a stored task on its topic, and each of its three subscribers takes it on its own terms', async () => {
    const acknowledgement = await client.send('tasks', { taskId: 't-3', title: 'plan the launch' });
    await client.awaitReply(acknowledgement, { maxWaitTime: 30 });
    // The task's record names the event it published; each guaranteed subscriber's record of that event is read in turn.
    const [stored] = await client.status(acknowledgement.correlationId, { channel: 'tasks' });
    const [announced] = (stored as LifecycleRecord).onward ?? [];
    expect(announced).toMatchObject({ kind: 'topic', target: 'taskCreated' });
    const settled = async (read: () => Promise<unknown>, done: (value: any) => boolean) => {
      let value = await read();
      for (const giveUpAt = Date.now() + 30_000; !done(value) && Date.now() < giveUpAt; value = await read()) await new Promise((resolve) => setTimeout(resolve, 100));
      return value;
    };
    for (const channel of ['digest', 'assignment'] as const) {
      const [record] = (await settled(() => client.status(announced!.correlationId, { channel }), ([found]) => found?.status === 'succeeded')) as LifecycleRecord[];
      expect(record, channel).toMatchObject({ status: 'succeeded', flowId: acknowledgement.correlationId, causationId: acknowledgement.correlationId });
    }
    // The ticker, fire-and-forget, keeps no record: its effect is the item it puts.
    const onTicker = await settled(() => client.dynamo.send(new GetCommand({ TableName: client.output('StateTableName'), Key: { pk: 'ticker#t-3', sk: 'ticker' } })), ({ Item }) => Item !== undefined);
    expect((onTicker as { Item?: object }).Item).toMatchObject({ title: 'plan the launch' });
  });

  it('answers a price from the primary, and from the fallback when the primary fails', async () => {
    // Which responder answers is what is tested, not how fast: a warm instance of each, as a service in use has, keeps
    // a busy machine's slow start from handing the primary's answer to the fallback within the 2 s deadline.
    for (const name of [client.output('pricesPrimaryFunctionName'), client.output('pricesFallbackFunctionName')]) await cloud.functions.get(name)!.invoke({ sku: 'tea' });
    expect((await client.request('prices', { sku: 'tea' })).answer).toStrictEqual({ sku: 'tea', cents: 199, source: 'primary' });
    expect((await client.request('prices', { sku: 'unknown-1' })).answer).toMatchObject({ source: 'fallback' });
  });

  it('sends an alert and moves on', async () => {
    await expect(client.send('alerts', { text: 'the build is green' })).resolves.toMatchObject({ channel: 'alerts' });
  });

  it('checks channel names and payloads at compile time, and again at run time', async () => {
    // @ts-expect-error: "task" is not a channel of this app
    await expect(client.send('task', { taskId: 't-2', title: 'typo' })).rejects.toThrow(/unknown channel/);
    // @ts-expect-error: a task needs a title
    await expect(client.send('tasks', { taskId: 't-2' })).rejects.toThrow(/title/);
  });
});

describe('the delivery-policy rules', () => {
  it('refuse a queue that would hand a message to a second consumer while the first still runs', () => {
    const slow = () =>
      defineChannel('slow', { policy: { kind: 'guaranteed', timeoutSeconds: 120, visibilityTimeoutSeconds: 60 }, schema: z.object({}) });
    expect(slow).toThrow(/slow.*visibilityTimeoutSeconds/);
  });
});
