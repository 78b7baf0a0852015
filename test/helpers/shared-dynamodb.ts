import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { SharedDynamoDb } from '../../local/index.ts';

/** The run's one DynamoDB Local (test/setup/global.ts), with a table prefix no other suite uses. */
export function sharedDynamoDb(suite: string): SharedDynamoDb {
  const endpoint = inject('dynamodbEndpoint');
  // Without the run's global setup there is none, and a client without an endpoint would call AWS itself.
  if (!endpoint) throw new Error('no shared DynamoDB Local: run the tests with vitest.config.ts, whose global setup starts it');
  return { endpoint, tablePrefix: `${suite}-${randomUUID().slice(0, 8)}-` };
}
