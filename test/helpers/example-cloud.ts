import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { channels } from '../../lib/channels.ts';
import { createClient, type MessagingClient } from '../../lib/client/index.ts';
import { OutputKey } from '../../lib/policy/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { withExampleAssembly } from './example-assembly.ts';
import { sharedDynamoDb } from './shared-dynamodb.ts';

/** The example app on a local cloud of a suite's own, with a client of it. */
export interface ExampleCloud {
  readonly cloud: LocalCloud;
  readonly client: MessagingClient<typeof channels>;
  readonly stateDir: string;
  stop(): Promise<void>;
}

/**
 * Starts the example app for a suite, with a warm instance of each responder, as a service in use has: a request
 * keeps the policy's deadline (1.5 s, failover at 0.9 s), and a cold start on a busy machine is not what these
 * suites are about.
 */
export async function startExampleCloud(suite: string): Promise<ExampleCloud> {
  const stateDir = `.local-cloud/${suite}-${randomUUID().slice(0, 8)}`;
  const cloud = await startLocalCloud({ stateDir: withExampleAssembly(stateDir), sharedDynamoDb: sharedDynamoDb(suite) });
  const client = await createClient({ channels, target: 'local', localStateDir: stateDir });
  for (const key of [OutputKey.primaryFunctionName('quotes'), OutputKey.fallbackFunctionName('quotes')]) {
    await cloud.functions.get(client.output(key))!.invoke({ sku: 'tea', quantity: 1 });
  }
  return {
    cloud,
    client,
    stateDir,
    stop: async () => {
      client.destroy();
      await cloud.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
