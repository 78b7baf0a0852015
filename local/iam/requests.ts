import type { IncomingHttpHeaders } from 'node:http';
import { queueArn, tableArn } from '../intrinsics.ts';

/**
 * What IAM checks for one API call: the actions and resources it authorizes, read from the request as each
 * service's protocol carries them. A batch or a transaction is one check per table or per item, as in AWS.
 */

export interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** Condition keys this call sets for this check, lower-cased: dynamodb:leadingkeys, the partition keys it touches. */
  readonly context?: Readonly<Record<string, readonly string[]>>;
}

/** A table's partition key attribute, by the table's name: what dynamodb:LeadingKeys reads from each call. */
export type PartitionKeyOf = (tableName: string) => string | undefined;

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

/** What an AWS call is, read strictly, or why it cannot be read: the gateway forwards only what it read. */
export type ReadCall = ApiCall | { readonly refused: string; readonly code: string };

/** The services' JSON-protocol targets, and the operations each serves. */
const PROTOCOLS = {
  sqs: {
    targetPrefix: 'AmazonSQS.',
    operations: new Set([
      'AddPermission', 'CancelMessageMoveTask', 'ChangeMessageVisibility', 'ChangeMessageVisibilityBatch', 'CreateQueue', 'DeleteMessage',
      'DeleteMessageBatch', 'DeleteQueue', 'GetQueueAttributes', 'GetQueueUrl', 'ListDeadLetterSourceQueues', 'ListMessageMoveTasks',
      'ListQueueTags', 'ListQueues', 'PurgeQueue', 'ReceiveMessage', 'RemovePermission', 'SendMessage', 'SendMessageBatch',
      'SetQueueAttributes', 'StartMessageMoveTask', 'TagQueue', 'UntagQueue',
    ]),
    /** Operations about no one queue: IAM checks them on the account's queues as a whole. */
    resourceless: new Set(['ListQueues']),
  },
  dynamodb: {
    targetPrefix: 'DynamoDB_20120810.',
    operations: new Set([
      'BatchExecuteStatement', 'BatchGetItem', 'BatchWriteItem', 'CreateTable', 'DeleteItem', 'DeleteTable', 'DescribeContinuousBackups',
      'DescribeEndpoints', 'DescribeLimits', 'DescribeTable', 'DescribeTimeToLive', 'ExecuteStatement', 'ExecuteTransaction', 'GetItem',
      'ListTables', 'ListTagsOfResource', 'PutItem', 'Query', 'Scan', 'TagResource', 'TransactGetItems', 'TransactWriteItems', 'UntagResource',
      'UpdateContinuousBackups', 'UpdateItem', 'UpdateTable', 'UpdateTimeToLive',
    ]),
    resourceless: new Set(['ListTables', 'DescribeEndpoints', 'DescribeLimits']),
  },
} as const;

export type JsonService = keyof typeof PROTOCOLS;

/** SNS's operations, in its query protocol (form-encoded, answered in XML), as fauxqs serves them. */
const SNS_OPERATIONS = new Set([
  'ConfirmSubscription', 'CreateTopic', 'DeleteTopic', 'GetSubscriptionAttributes', 'GetTopicAttributes', 'ListSubscriptions',
  'ListSubscriptionsByTopic', 'ListTagsForResource', 'ListTopics', 'Publish', 'PublishBatch', 'SetSubscriptionAttributes',
  'SetTopicAttributes', 'Subscribe', 'TagResource', 'Unsubscribe', 'UntagResource',
]);
/** SNS operations about no one topic: IAM checks them on the account's topics as a whole. */
const SNS_RESOURCELESS = new Set(['ListTopics', 'ListSubscriptions']);

/**
 * A call in SNS's query protocol, read strictly: POST to /, Content-Type application/x-www-form-urlencoded, each
 * parameter once, an Action SNS serves. Its input is the parameters by name, as the form carries them.
 */
export function readQueryCall(method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders, body: string): ReadCall {
  if (method !== 'POST' || url !== '/') return { refused: `the local sns endpoint serves POST /, not ${method} ${String(url).slice(0, 200)}`, code: 'InvalidAction' };
  if (!/^application\/x-www-form-urlencoded(;|$)/.test(String(headers['content-type'] ?? ''))) {
    return { refused: "the local sns endpoint serves SNS's query protocol (Content-Type application/x-www-form-urlencoded)", code: 'InvalidAction' };
  }
  const input: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    // A parameter given twice could be read as one value here and as the other by the emulator.
    if (Object.hasOwn(input, name)) return { refused: `the parameter ${name.slice(0, 100)} is given more than once`, code: 'InvalidParameter' };
    input[name] = value;
  }
  const operation = input.Action ?? '';
  if (!SNS_OPERATIONS.has(operation)) return { refused: `${operation.slice(0, 100) || 'no Action'} is not an operation of sns`, code: 'InvalidAction' };
  return { operation, input };
}

/** The SNS request to forward for a call read: its parameters, written again. */
export function canonicalQueryCall({ input }: ApiCall): { headers: Record<string, string>; body: string } {
  return { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: new URLSearchParams(input as Record<string, string>).toString() };
}

/** SNS's calls name a topic (or a subscription); a batch is authorized as its single form. */
export function snsAuthorizations({ operation, input }: ApiCall): Authorization[] {
  const action = `sns:${operation === 'PublishBatch' ? 'Publish' : operation}`;
  const resource = input.TopicArn ?? input.SubscriptionArn ?? input.ResourceArn;
  return [{ action, resource: typeof resource === 'string' && resource.startsWith('arn:') ? resource : '*' }];
}

/**
 * A call in the service's JSON protocol, read strictly: POST to /, Content-Type application/x-amz-json-1.0, an
 * X-Amz-Target of exactly `<prefix><a known operation>`, a body that is one JSON object. Anything else is refused,
 * for every caller: a request read one way here and another way by the emulator could be authorized as one call and
 * run as another (a target without its prefix once made the gateway read a queue from fragments of the body while
 * fauxqs ran the real operation). SQS's older query protocol (AWS CLI before 2.13) is refused too: fauxqs would read
 * it as SNS.
 */
export function readCall(service: JsonService, method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders, body: string): ReadCall {
  const { targetPrefix, operations } = PROTOCOLS[service];
  if (method !== 'POST' || url !== '/') return { refused: `the local ${service} endpoint serves POST /, not ${method} ${String(url).slice(0, 200)}`, code: 'UnknownOperationException' };
  if (!/^application\/x-amz-json-1\.0(;|$)/.test(String(headers['content-type'] ?? ''))) {
    return { refused: `the local ${service} endpoint serves the JSON protocol (Content-Type application/x-amz-json-1.0)${service === 'sqs' ? ", as the AWS SDK v3 and AWS CLI 2.13+ speak it, not SQS's query protocol" : ''}`, code: 'UnknownOperationException' };
  }
  const target = String(headers['x-amz-target'] ?? '');
  const operation = target.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : '';
  if (!operations.has(operation)) return { refused: `${target.slice(0, 100) || 'no X-Amz-Target'} is not an operation of ${service}`, code: 'UnknownOperationException' };
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    return { refused: 'the body is not JSON', code: 'SerializationException' };
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { refused: 'the body is not a JSON object', code: 'SerializationException' };
  return { operation, input: input as Record<string, unknown> };
}

/** The request to forward for a call read: exactly what was read and authorized, written again. */
export function canonicalCall(service: JsonService, { operation, input }: ApiCall): { headers: Record<string, string>; body: string } {
  return { headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${PROTOCOLS[service].targetPrefix}${operation}` }, body: JSON.stringify(input) };
}

/** Whether a call's authorizations name what they are about: an operation on a resource must name it, or is denied. */
export function determined(service: JsonService | 'sns', operation: string, authorizations: readonly Authorization[]): boolean {
  const resourceless = service === 'sns' ? SNS_RESOURCELESS : PROTOCOLS[service].resourceless;
  return resourceless.has(operation) || (authorizations.length > 0 && authorizations.every((authorization) => authorization.resource !== '*'));
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

export function dynamodbAuthorizations({ operation, input }: ApiCall, partitionKeyOf: PartitionKeyOf = () => undefined): Authorization[] {
  const onTable = (action: string, table: unknown, index?: unknown, keys?: readonly unknown[]): Authorization => {
    const name = typeof table === 'string' ? table : undefined;
    const leading = name === undefined || keys === undefined ? undefined : leadingKeys(partitionKeyOf(name.split('/').pop()!), keys);
    return {
      action,
      resource: name === undefined ? '*' : `${tableArn(name)}${typeof index === 'string' ? `/index/${index}` : ''}`,
      ...(leading ? { context: { 'dynamodb:leadingkeys': leading } } : {}),
    };
  };
  switch (operation) {
    case 'BatchGetItem':
      return Object.entries((input.RequestItems as Record<string, { Keys?: unknown[] }> | undefined) ?? {}).map(([table, { Keys = [] }]) => onTable('dynamodb:BatchGetItem', table, undefined, Keys));
    case 'BatchWriteItem':
      return Object.entries((input.RequestItems as Record<string, { PutRequest?: { Item?: unknown }; DeleteRequest?: { Key?: unknown } }[]> | undefined) ?? {}).map(([table, requests]) =>
        onTable('dynamodb:BatchWriteItem', table, undefined, requests.map((request) => request.PutRequest?.Item ?? request.DeleteRequest?.Key)),
      );
    case 'TransactWriteItems':
      return ((input.TransactItems as Record<string, { TableName?: unknown; Key?: unknown; Item?: unknown }>[] | undefined) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, element]) => onTable(TRANSACT_WRITE_ACTIONS[kind] ?? `dynamodb:${kind}`, element.TableName, undefined, [element.Key ?? element.Item])),
      );
    case 'TransactGetItems':
      return ((input.TransactItems as { Get?: { TableName?: unknown; Key?: unknown } }[] | undefined) ?? []).map((item) => onTable('dynamodb:GetItem', item.Get?.TableName, undefined, [item.Get?.Key]));
    case 'ExecuteStatement':
      return [partiql(String(input.Statement ?? ''), onTable)];
    case 'BatchExecuteStatement':
    case 'ExecuteTransaction': {
      const statements = (input.Statements ?? input.TransactStatements) as { Statement?: unknown }[] | undefined;
      return (statements ?? []).map((statement) => partiql(String(statement.Statement ?? ''), onTable));
    }
    case 'GetItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return [onTable(`dynamodb:${operation}`, input.TableName, undefined, [input.Key])];
    case 'PutItem':
      return [onTable('dynamodb:PutItem', input.TableName, undefined, [input.Item])];
    case 'Query':
      return [onTable('dynamodb:Query', input.TableName, input.IndexName, input.IndexName === undefined ? queriedKeys(input, partitionKeyOf) : undefined)];
    default:
      return [onTable(`dynamodb:${operation}`, input.TableName, input.IndexName)];
  }
}

/**
 * The partition key values of the items a call names, as dynamodb:LeadingKeys holds them; undefined when the table's
 * key is unknown or an item names none (IAM then has no value for the key: ForAllValues holds, ForAnyValue does not).
 */
function leadingKeys(partitionKey: string | undefined, items: readonly unknown[]): string[] | undefined {
  if (partitionKey === undefined) return undefined;
  const values = items.map((item) => attributeText((item as Record<string, unknown> | undefined)?.[partitionKey]));
  return values.every((value) => value !== undefined) ? (values as string[]) : undefined;
}

/** An attribute value's text, as IAM compares it: {"S": "a"} → "a", {"N": "1"} → "1", {"B": …} → its base64. */
function attributeText(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { S, N, B } = value as { S?: unknown; N?: unknown; B?: unknown };
  const text = S ?? N ?? B;
  return typeof text === 'string' ? text : undefined;
}

/** The partition key a Query names: `#pk = :value` in its KeyConditionExpression (either way round), or KeyConditions. */
function queriedKeys(input: Record<string, unknown>, partitionKeyOf: PartitionKeyOf): unknown[] | undefined {
  const table = typeof input.TableName === 'string' ? input.TableName : undefined;
  const partitionKey = table === undefined ? undefined : partitionKeyOf(table.split('/').pop()!);
  if (partitionKey === undefined) return undefined;
  const legacy = (input.KeyConditions as Record<string, { AttributeValueList?: unknown[] }> | undefined)?.[partitionKey]?.AttributeValueList?.[0];
  if (legacy !== undefined) return [{ [partitionKey]: legacy }];
  const names = (input.ExpressionAttributeNames as Record<string, string> | undefined) ?? {};
  const values = (input.ExpressionAttributeValues as Record<string, unknown> | undefined) ?? {};
  const named = (token: string) => (token.startsWith('#') ? names[token] : token);
  for (const [, left, right] of String(input.KeyConditionExpression ?? '').matchAll(/([#:]?[\w]+)\s*=\s*([#:]?[\w]+)/g)) {
    const [name, value] = left!.startsWith(':') ? [right!, left!] : [left!, right!];
    if (named(name) === partitionKey && value.startsWith(':')) return [{ [partitionKey]: values[value] }];
  }
  return undefined;
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
