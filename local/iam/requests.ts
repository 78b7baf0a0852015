import type { IncomingHttpHeaders } from 'node:http';
import { queueArn, tableArn } from '../intrinsics.ts';

/**
 * What IAM checks for one API call: the actions and resources it authorizes, read from the request as each
 * service's protocol carries them. A batch or a transaction is one check per table or per item, as in AWS.
 */

export interface Authorization {
  readonly action: string;
  readonly resource: string;
}

/** One API call as its service reads it: the operation and its input. */
export interface ApiCall {
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

/** The access key a request was signed with: from its Authorization header, or a presigned URL's X-Amz-Credential. */
export function accessKeyOf(headers: IncomingHttpHeaders, url: string | undefined): string | undefined {
  const header = /Credential=([^/,\s]+)\//.exec(String(headers.authorization ?? ''))?.[1];
  return header ?? new URL(url ?? '/', 'http://local').searchParams.get('X-Amz-Credential')?.split('/')[0];
}

/** SQS's batch calls are authorized as their single forms. */
const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** An SQS call in the JSON protocol (X-Amz-Target: AmazonSQS.<Operation>) or the query protocol (Action=<Operation>). */
export function sqsCall(headers: IncomingHttpHeaders, url: string | undefined, body: string): ApiCall {
  const target = String(headers['x-amz-target'] ?? '');
  if (target.startsWith('AmazonSQS.')) return { operation: target.slice('AmazonSQS.'.length), input: parseJson(body) };
  const where = new URL(url ?? '/', 'http://local');
  const query = new URLSearchParams(body);
  for (const [key, value] of where.searchParams) query.append(key, value);
  const input: Record<string, unknown> = Object.fromEntries(query);
  // The query protocol may name the queue by its path instead of a QueueUrl parameter.
  if (input.QueueUrl === undefined && where.pathname.split('/').filter(Boolean).length === 2) input.QueueUrl = where.pathname;
  return { operation: query.get('Action') ?? '', input };
}

/** A DynamoDB call (X-Amz-Target: DynamoDB_20120810.<Operation>, JSON 1.0). */
export function dynamodbCall(headers: IncomingHttpHeaders, body: string): ApiCall {
  return { operation: String(headers['x-amz-target'] ?? '').split('.').pop() ?? '', input: parseJson(body) };
}

export function sqsAuthorizations({ operation, input }: ApiCall): Authorization[] {
  const action = `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`;
  const queue = input.QueueUrl ?? input.QueueName;
  return [{ action, resource: typeof queue === 'string' ? queueArn(queue) : '*' }];
}

/** The action each element of a transaction is authorized as. */
const TRANSACT_WRITE_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

const PARTIQL_ACTIONS: Record<string, string> = {
  SELECT: 'dynamodb:PartiQLSelect',
  INSERT: 'dynamodb:PartiQLInsert',
  UPDATE: 'dynamodb:PartiQLUpdate',
  DELETE: 'dynamodb:PartiQLDelete',
};

export function dynamodbAuthorizations({ operation, input }: ApiCall): Authorization[] {
  const onTable = (action: string, table: unknown, index?: unknown): Authorization => ({
    action,
    resource: typeof table === 'string' ? `${tableArn(table)}${typeof index === 'string' ? `/index/${index}` : ''}` : '*',
  });
  switch (operation) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys((input.RequestItems as object | undefined) ?? {}).map((table) => onTable(`dynamodb:${operation}`, table));
    case 'TransactWriteItems':
      return ((input.TransactItems as Record<string, { TableName?: unknown }>[] | undefined) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, element]) => onTable(TRANSACT_WRITE_ACTIONS[kind] ?? `dynamodb:${kind}`, element.TableName)),
      );
    case 'TransactGetItems':
      return ((input.TransactItems as { Get?: { TableName?: unknown } }[] | undefined) ?? []).map((item) => onTable('dynamodb:GetItem', item.Get?.TableName));
    case 'ExecuteStatement':
      return [partiql(String(input.Statement ?? ''), onTable)];
    case 'BatchExecuteStatement':
    case 'ExecuteTransaction': {
      const statements = (input.Statements ?? input.TransactStatements) as { Statement?: unknown }[] | undefined;
      return (statements ?? []).map((statement) => partiql(String(statement.Statement ?? ''), onTable));
    }
    default:
      return [onTable(`dynamodb:${operation}`, input.TableName, input.IndexName)];
  }
}

/** A PartiQL statement's verb and table: SELECT … FROM "t", INSERT INTO "t", UPDATE "t", DELETE FROM "t". */
function partiql(statement: string, onTable: (action: string, table: unknown) => Authorization): Authorization {
  const verb = statement.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  const table = /(?:\bFROM|\bINTO|^\s*UPDATE)\s+"?([\w.-]+)"?/i.exec(statement)?.[1];
  return onTable(PARTIQL_ACTIONS[verb] ?? `dynamodb:PartiQL${verb}`, table);
}

/** A JSON object from a call's body or answer, or an empty one for anything else. */
export function parseJson(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body || '{}');
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
