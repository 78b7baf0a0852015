import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { channels, topics } from '../../lib/channels.ts';
import { createClient, type MessagingClient, type Target } from '../../lib/client/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { withExampleAssembly } from '../helpers/example-assembly.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';

/**
 * The one place the end-to-end suite differs between targets: E2E_TARGET=local (default) starts the local
 * cloud on the example app; localstack and aws discover an already deployed stack through CloudFormation.
 */
export async function connect(): Promise<{ client: MessagingClient<typeof channels, typeof topics>; target: Target; close: () => Promise<void> }> {
  const target = (process.env.E2E_TARGET ?? 'local') as Target;
  if (!['local', 'localstack', 'aws'].includes(target)) throw new Error(`E2E_TARGET must be local, localstack or aws, not ${target}`);
  let cloud: LocalCloud | undefined;
  const stateDir = `.local-cloud/e2e-${randomUUID().slice(0, 8)}`;
  if (target === 'local') cloud = await startLocalCloud({ stateDir: withExampleAssembly(stateDir), sharedDynamoDb: sharedDynamoDb('e2e') });
  const client = await createClient({ channels, topics, target, localStateDir: stateDir, stackName: process.env.E2E_STACK ?? 'DeliveryPolicies' });
  return {
    client,
    target,
    close: async () => {
      client.destroy();
      await cloud?.stop();
      if (cloud) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
