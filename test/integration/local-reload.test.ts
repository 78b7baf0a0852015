import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient, type MessagingClient } from '../../lib/client/index.ts';
import { defineChannel } from '../../lib/policy/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { writeFileAt } from '../helpers/files.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';

// An app of its own, in a folder inside this repository (ignored by git) so that it imports the library by name as
// the example does: one guaranteed channel whose handler's answer tells which code ran.
mkdirSync('.local-cloud', { recursive: true });
const appDir = resolve(mkdtempSync('.local-cloud/reload-app-'));
const notes = defineChannel('notes', { policy: { kind: 'guaranteed', reply: true, timeoutSeconds: 5 }, schema: z.object({ text: z.string() }), replySchema: z.object({ by: z.string() }) });

const write = (path: string, text: string, secondsAgo = 0) => writeFileAt(appDir, path, text, Date.now() / 1000 - secondsAgo);

const firstHandler = `import { guaranteedConsumer } from 'delivery-policies/runtime';
import { notes } from '../../lib/channels.ts';
export const handler = guaranteedConsumer({ channel: notes, handle: async () => ({ reply: { by: 'v1' } }) });
`;

/** The app, with or without the consumer's grant on a second table (named, so that a handler can name it too). */
const app = (grant: boolean) => `import { App, Stack } from 'aws-cdk-lib';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { ChannelCatalog } from 'delivery-policies/constructs';
import { channels } from '../lib/channels.ts';
const app = new App();
const stack = new Stack(app, 'Reload');
const catalog = new ChannelCatalog(stack, 'Channels', { channels });
const extra = new Table(stack, 'Extra', { tableName: 'reload-extra', partitionKey: { name: 'pk', type: AttributeType.STRING } });
${grant ? 'extra.grantWriteData(catalog.channels.notes!.consumer);' : ''}
`;

/** A handler that writes to the second table and answers how that went. */
const writingHandler = `import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { guaranteedConsumer } from 'delivery-policies/runtime';
import { notes } from '../../lib/channels.ts';
const dynamodb = new DynamoDBClient({});
export const handler = guaranteedConsumer({
  channel: notes,
  handle: async ({ text }) => {
    const written = await dynamodb.send(new PutItemCommand({ TableName: 'reload-extra', Item: { pk: { S: text } } })).then(() => 'written', (error: Error) => error.name);
    return { reply: { by: written } };
  },
});
`;

let cloud: LocalCloud;
let client: MessagingClient<{ notes: typeof notes }>;

beforeAll(async () => {
  write('cdk.json', JSON.stringify({ app: 'node --conditions=delivery-policies:source bin/app.ts', watch: { include: ['bin/**', 'lib/**', 'functions/**'] } }), 60);
  write('lib/channels.ts', `import { defineChannel } from 'delivery-policies';
import { z } from 'zod';
export const notes = defineChannel('notes', { policy: { kind: 'guaranteed', reply: true, timeoutSeconds: 5 }, schema: z.object({ text: z.string() }), replySchema: z.object({ by: z.string() }) });
export const channels = { notes };
`, 60);
  write('bin/app.ts', app(false), 60);
  write('functions/notes/index.ts', firstHandler, 60);
  cloud = await startLocalCloud({ appDir, stateDir: join(appDir, 'state'), sharedDynamoDb: sharedDynamoDb('reload') });
  client = await createClient({ channels: { notes }, target: 'local', localStateDir: join(appDir, 'state'), stackName: 'Reload' });
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
  rmSync(appDir, { recursive: true, force: true });
});

describe('Function: LocalCloud.reload', () => {
  it('runs a changed handler on its new code without a restart, keeping queues and tables', async () => {
    // GIVEN the handler answers as v1
    const first = await client.send('notes', { text: 'first' });
    expect(await client.awaitReply(first, { maxWaitTime: 60 })).toStrictEqual({ by: 'v1' });

    // WHEN its source is edited (to a handler that writes to a table its role has no grant on) and the cloud reloads
    write('functions/notes/index.ts', writingHandler);
    const { resynthesized, updated, restartNeeded } = await cloud.reload();

    // THEN the next message is handled by the new code (whose write IAM refuses), and what the emulators held before
    // is still there
    expect(resynthesized).toBe(true);
    expect(updated).toStrictEqual([expect.stringContaining('notes')]);
    expect(restartNeeded).toStrictEqual([]);
    expect(await client.awaitReply(await client.send('notes', { text: 'before' }), { maxWaitTime: 60 })).toStrictEqual({ by: 'AccessDeniedException' });
    expect(await client.status(first)).toStrictEqual([expect.objectContaining({ status: 'succeeded', reply: { by: 'v1' } })]);
  });

  it('applies a new grant on reload: the call IAM refused before is allowed after, with no restart', async () => {
    // WHEN the app grants the handler's table and the cloud reloads
    write('bin/app.ts', app(true));
    const { resynthesized, restartNeeded } = await cloud.reload();

    // THEN the call refused above succeeds
    expect(resynthesized).toBe(true);
    expect(restartNeeded).toStrictEqual([]);
    expect(await client.awaitReply(await client.send('notes', { text: 'after' }), { maxWaitTime: 60 })).toStrictEqual({ by: 'written' });
  });

  it('does nothing when nothing changed', async () => {
    expect(await cloud.reload()).toStrictEqual({ resynthesized: false, updated: [], restartNeeded: [] });
  });
});
