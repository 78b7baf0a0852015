import { GetSubscriptionAttributesCommand, GetTopicAttributesCommand, ListSubscriptionsCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ListQueuesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credentials } from '../../local/iam/signatures.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { synthesizeFixture } from '../fixtures/local-cloud/app.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';
import { sendRaw, type RawRequest } from '../helpers/signed-request.ts';

/**
 * The local cloud's doors under fuzz: random methods, paths, percent-encodings, headers, targets and bodies, against
 * the SQS, SNS and DynamoDB gateways and the Lambda API, most of them signed by a function whose role allows it only to consume one empty queue. The
 * process must keep serving, and nothing any of these calls did may show: queues, topics, subscriptions, tables and
 * invocations as they were.
 * FUZZ_RUNS sets the number of requests (npm run test:properties runs many more); FUZZ_SEED replays a failure.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

const stateDir = `.local-cloud/doors-${randomUUID().slice(0, 8)}`;
let cloud: LocalCloud;
let out: Record<string, string>;
let bare: Credentials;

beforeAll(async () => {
  cloud = await startLocalCloud({ cdkOut: synthesizeFixture(`${stateDir}/cdk.out`), stateDir, sharedDynamoDb: sharedDynamoDb('doors') });
  out = cloud.outputs.Fixture!;
  // Messages where no consumer takes them (the DLQs), so that a purge, a receive or a delete that gets through shows.
  const sqs = new SQSClient({ region: cloud.endpoints.region, credentials: cloud.credentials, endpoint: cloud.endpoints.sqs });
  for (const queue of cloud.queues.filter((candidate) => candidate.logicalId.includes('Dlq'))) await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'parked' }));
  sqs.destroy();
  const { environment } = cloud.functions.get(out.BareName!)!.props;
  bare = { accessKeyId: environment.AWS_ACCESS_KEY_ID!, secretAccessKey: environment.AWS_SECRET_ACCESS_KEY! };
});

afterAll(async () => {
  await cloud?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Everything a call could have changed, read as the developer: every queue's counts and settings, every item, every invocation. */
async function state() {
  const config = { region: cloud.endpoints.region, credentials: cloud.credentials };
  const sqs = new SQSClient({ ...config, endpoint: cloud.endpoints.sqs });
  const sns = new SNSClient({ ...config, endpoint: cloud.endpoints.sns });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: cloud.endpoints.dynamodb }));
  try {
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
    const queues = await Promise.all(QueueUrls.sort().map(async (QueueUrl) => [QueueUrl, (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes]));
    const tables = cloud.tables.map((table) => table.name);
    const items = await Promise.all(tables.map(async (TableName) => [TableName, (await dynamo.send(new ScanCommand({ TableName, ConsistentRead: true }))).Items]));
    const { TableNames = [] } = await dynamo.send(new ListTablesCommand({}));
    const invocations = [...cloud.functions.values()].map((fn) => [fn.props.name, fn.invocationCount]);
    const { Topics = [] } = await sns.send(new ListTopicsCommand({}));
    const topics = await Promise.all(Topics.map(async ({ TopicArn }) => [TopicArn, (await sns.send(new GetTopicAttributesCommand({ TopicArn }))).Attributes]));
    const { Subscriptions = [] } = await sns.send(new ListSubscriptionsCommand({}));
    const subscriptions = await Promise.all(Subscriptions.map(async ({ SubscriptionArn }) => [SubscriptionArn, (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes]));
    return { queues, tables: TableNames.filter((name) => tables.includes(name)), items, invocations, topics, subscriptions };
  } finally {
    sqs.destroy();
    sns.destroy();
    dynamo.destroy();
  }
}

/** A request to one of the doors: mostly well-formed calls that would change state if allowed, and their near misses. */
function requests() {
  const ownQueue = out.BareQueueUrl!;
  const queueUrl = fc.constantFrom(...cloud.queues.map((queue) => queue.url), 'http://127.0.0.1:1/000000000000/none', '');
  const table = fc.constantFrom(...cloud.tables.map((entry) => entry.name), 'none', '');
  const functionName = fc.constantFrom(...cloud.functions.keys(), 'none', '%E0%A4%A', '..%2F..', 'x'.repeat(300));
  const sqsCall = fc.record({
    operation: fc.constantFrom('PurgeQueue', 'DeleteQueue', 'SendMessage', 'SendMessageBatch', 'SetQueueAttributes', 'ReceiveMessage', 'ChangeMessageVisibility', 'DeleteMessage', 'CreateQueue', 'TagQueue', 'StartMessageMoveTask', 'ListQueues'),
    input: fc.record({ QueueUrl: queueUrl, MessageBody: fc.string(), QueueName: fc.string(), Entries: fc.constant([{ Id: '1', MessageBody: 'x' }]), Attributes: fc.constant({ VisibilityTimeout: '0' }) }, { requiredKeys: [] }),
  });
  const dynamodbCall = fc.record({
    operation: fc.constantFrom('PutItem', 'DeleteItem', 'UpdateItem', 'DeleteTable', 'CreateTable', 'BatchWriteItem', 'TransactWriteItems', 'ExecuteStatement', 'UpdateTable', 'Scan', 'Query', 'GetItem', 'ListTables'),
    input: fc.record({
      TableName: table,
      Key: fc.constant({ pk: { S: 'fuzz' } }),
      Item: fc.constant({ pk: { S: 'fuzz' } }),
      UpdateExpression: fc.constant('SET a = :a'),
      ExpressionAttributeValues: fc.constant({ ':a': { S: 'b' } }),
      Statement: fc.constantFrom(`INSERT INTO "${cloud.tables[0]!.name}" VALUE {'pk':'fuzz'}`, `DELETE FROM "${cloud.tables[0]!.name}" WHERE pk='fuzz'`),
      TransactItems: table.map((TableName) => [{ Put: { TableName, Item: { pk: { S: 'fuzz' } } } }]),
      RequestItems: table.map((name) => ({ [name]: [{ PutRequest: { Item: { pk: { S: 'fuzz' } } } }] })),
    }, { requiredKeys: [] }),
  });
  const target = (prefix: string, operation: string) =>
    fc.oneof({ arbitrary: fc.constant(`${prefix}${operation}`), weight: 3 }, fc.constantFrom(operation, `X.${operation}`, `${prefix}${operation}x`, `${prefix.toLowerCase()}${operation}`, ''));
  // What the one queue this identity may consume would be read from by a reader that takes fragments of the body.
  const ownQueueFragment = `&Action=ReceiveMessage&QueueUrl=${encodeURIComponent(ownQueue)}&`;
  const body = (input: object) =>
    fc.oneof(
      { arbitrary: fc.constant(JSON.stringify(input)), weight: 3 },
      // The call's resource named twice, or smuggled in fragments: a reader that takes another one than the emulator is fooled.
      { arbitrary: fc.constant(`${JSON.stringify(input).slice(0, -1)},"QueueUrl":"${ownQueue}"}`), weight: 1 },
      { arbitrary: fc.constant(`${JSON.stringify(input).slice(0, -1)},"x":"${ownQueueFragment}"}`), weight: 2 },
      { arbitrary: fc.constant(new URLSearchParams({ Action: 'PurgeQueue', QueueUrl: ownQueue }).toString()), weight: 1 },
      { arbitrary: fc.string(), weight: 1 },
      { arbitrary: fc.constant('x'.repeat(3 * 1024 * 1024)), weight: 1 },
    );
  const jsonDoor = (service: 'sqs' | 'dynamodb') =>
    (service === 'sqs' ? sqsCall : dynamodbCall).chain(({ operation, input }) =>
      fc.record({
        service: fc.constant(service),
        method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
        path: fc.constantFrom('/', '/', '/', '/_fauxqs/queues', '/000000000000/x', '/%2e%2e/', '/?Action=PurgeQueue'),
        target: target(service === 'sqs' ? 'AmazonSQS.' : 'DynamoDB_20120810.', operation),
        contentType: fc.constantFrom('application/x-amz-json-1.0', 'application/x-amz-json-1.0', 'application/x-amz-json-1.0; charset=utf-8', 'application/x-www-form-urlencoded', 'text/plain', ''),
        body: body(input),
      }),
    );
  // SNS's query protocol: form parameters, read strictly (each once); this identity holds no SNS grant at all.
  const topicArn = fc.constantFrom(out.BulletinArn!, out.BulletinArn!, out.BulletinArn!, 'arn:aws:sns:us-east-1:000000000000:none', '');
  const snsDoor = fc
    .record({
      Action: fc.constantFrom('Publish', 'Publish', 'Publish', 'PublishBatch', 'DeleteTopic', 'DeleteTopic', 'Subscribe', 'Unsubscribe', 'SetTopicAttributes', 'SetSubscriptionAttributes', 'CreateTopic', 'ListTopics', 'Nonsense', ''),
      TopicArn: topicArn,
      Message: fc.string(),
      Protocol: fc.constant('sqs'),
      Endpoint: fc.constant(cloud.queues[0]!.arn),
      Name: fc.constant('fuzzed'),
    }, { requiredKeys: ['Action', 'TopicArn'] })
    .chain((input) =>
      fc.record({
        service: fc.constant('sns' as const),
        method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'),
        path: fc.constantFrom('/', '/', '/', '/?Action=DeleteTopic', '/%2e%2e/'),
        target: fc.constant(''),
        contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-amz-json-1.0', ''),
        body: fc.oneof(
          { arbitrary: fc.constant(new URLSearchParams(input).toString()), weight: 3 },
          // A parameter named twice: the gateway authorizing one value and the emulator running the other.
          { arbitrary: fc.constant(`${new URLSearchParams(input).toString()}&Action=DeleteTopic&TopicArn=${encodeURIComponent(out.BulletinArn!)}`), weight: 2 },
          { arbitrary: fc.constant(JSON.stringify(input)), weight: 1 },
          { arbitrary: fc.string(), weight: 1 },
          { arbitrary: fc.constant('x'.repeat(4 * 1024 * 1024)), weight: 1 },
        ),
      }),
    );
  const lambdaDoor = fc.record({
    service: fc.constant('lambda' as const),
    method: fc.constantFrom('POST', 'POST', 'GET', 'PUT'),
    path: fc.oneof(functionName.map((name) => `/2015-03-31/functions/${name}/invocations`), functionName.map((name) => `/2015-03-31/functions/${name}`), fc.constant('/2015-03-31/functions'), fc.webPath()),
    target: fc.constantFrom('RequestResponse', 'Event', 'DryRun', 'Nonsense'),
    contentType: fc.constantFrom('application/json', ''),
    body: fc.oneof(fc.constant('{}'), fc.string(), fc.constant('x'.repeat(7 * 1024 * 1024))),
  });
  // An attack starts from what the identity may do: receiving from its own queue. Here, that call made to be read as
  // another by a reader that takes a target without its prefix, a resource named twice, or fragments of the body.
  const parked = fc.constantFrom(...cloud.queues.filter((queue) => queue.logicalId.includes('Dlq')).map((queue) => queue.url));
  const smuggled = fc.record({
    operation: fc.constantFrom('PurgeQueue', 'DeleteQueue', 'ReceiveMessage', 'SetQueueAttributes'),
    other: parked,
    form: fc.constantFrom('target without prefix', 'foreign prefix', 'named twice', 'fragments'),
  }).map(({ operation, other, form }) => ({
    service: 'sqs' as const,
    method: 'POST',
    path: '/',
    contentType: 'application/x-amz-json-1.0',
    target: form === 'target without prefix' ? operation : form === 'foreign prefix' ? `DynamoDB_20120810.${operation}` : form === 'named twice' ? 'AmazonSQS.ReceiveMessage' : operation,
    body:
      form === 'named twice'
        ? `{"QueueUrl":"${ownQueue}","Attributes":{"VisibilityTimeout":"0"},"QueueUrl":"${other}"}`
        : JSON.stringify({ QueueUrl: other, Attributes: { VisibilityTimeout: '0' }, x: ownQueueFragment }),
  }));
  return fc.record({
    call: fc.oneof({ arbitrary: jsonDoor('sqs'), weight: 2 }, { arbitrary: jsonDoor('dynamodb'), weight: 2 }, { arbitrary: snsDoor, weight: 2 }, { arbitrary: lambdaDoor, weight: 1 }, { arbitrary: smuggled, weight: 2 }),
    signing: fc.constantFrom('bare', 'bare', 'bare', 'wrong secret', 'unknown key', 'unsigned'),
    host: fc.constantFrom('right', 'right', 'right', 'evil.example'),
    origin: fc.constantFrom(false, false, false, true),
  });
}

describe('Fuzz: the local cloud\'s doors, with an identity allowed only to consume one empty queue', () => {
  it('keeps serving, and no call changes anything', { timeout: 300_000 }, async () => {
    const before = await state();
    await fc.assert(
      fc.asyncProperty(requests(), async ({ call, signing, host, origin }) => {
        const endpoint = cloud.endpoints[call.service];
        const headers: Record<string, string> = {
          ...(call.contentType ? { 'content-type': call.contentType } : {}),
          ...(call.service === 'lambda' ? { 'x-amz-invocation-type': call.target } : call.target ? { 'x-amz-target': call.target } : {}),
          ...(origin ? { origin: 'https://evil.example' } : {}),
          ...(host === 'right' ? {} : { host }),
        };
        const request: RawRequest = { method: call.method, path: call.path, headers, body: call.method === 'GET' ? '' : call.body };
        const credentials = signing === 'wrong secret' ? { ...bare, secretAccessKey: 'wrong' } : signing === 'unknown key' ? { accessKeyId: 'AKIAFUZZ', secretAccessKey: 'x' } : bare;
        const { status } = await sendRaw(endpoint, request, signing === 'unsigned' ? undefined : { credentials, service: call.service });
        // A caller who is not the function, or not on this machine, or a web page, is refused whatever it asks.
        if (signing !== 'bare' || host !== 'right' || origin) expect(status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    // THEN every door still answers, and nothing changed
    expect(await state()).toStrictEqual(before);
  });
});

describe("The local cloud's doors, one by one", () => {
  const signedAsBare = (service: string) => ({ credentials: bare, service });
  const listQueues = { method: 'POST', path: '/', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' }, body: '{}' };

  it('refuses an unsigned call, a wrong secret, an unknown key, another host and a web page, each as SQS words it', async () => {
    const sqs = cloud.endpoints.sqs;
    const refusals = await Promise.all([
      sendRaw(sqs, listQueues),
      sendRaw(sqs, listQueues, { credentials: { ...bare, secretAccessKey: 'guessed' }, service: 'sqs' }),
      sendRaw(sqs, listQueues, { credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }, service: 'sqs' }),
      sendRaw(sqs, { ...listQueues, headers: { ...listQueues.headers, host: 'attacker.example' } }, signedAsBare('sqs')),
      sendRaw(sqs, { ...listQueues, headers: { ...listQueues.headers, origin: 'https://attacker.example' } }, signedAsBare('sqs')),
    ]);
    expect(refusals.map(({ status, body }) => [status, JSON.parse(body).__type])).toStrictEqual([
      [403, 'com.amazonaws.sqs#SignatureDoesNotMatch'],
      [403, 'com.amazonaws.sqs#SignatureDoesNotMatch'],
      [403, 'com.amazonaws.sqs#InvalidClientTokenId'],
      [400, 'com.amazonaws.sqs#AccessDenied'],
      [400, 'com.amazonaws.sqs#AccessDenied'],
    ]);
  });

  it('refuses a publish without the grant, and a parameter given twice, each as SNS words it', async () => {
    const publish = (body: string) => sendRaw(cloud.endpoints.sns, { method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }, signedAsBare('sns'));
    const form = new URLSearchParams({ Action: 'Publish', TopicArn: out.BulletinArn!, Message: 'hello' }).toString();
    const [denied, twice] = await Promise.all([publish(form), publish(`${form}&TopicArn=${encodeURIComponent(out.BulletinArn!)}`)]);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatch(/<Code>AuthorizationError<\/Code><Message>User: \S+ is not authorized to perform: sns:Publish on resource: /);
    expect(twice.status).toBe(400);
    expect(twice.body).toMatch(/<Code>InvalidParameter<\/Code><Message>the parameter TopicArn is given more than once/);
  });

  it('refuses a body past its limit while reading it, and a name that is not valid percent-encoding, and keeps serving', async () => {
    const huge = await sendRaw(cloud.endpoints.dynamodb, { method: 'POST', path: '/', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' }, body: 'x'.repeat(18 * 1024 * 1024) }).catch((error: Error) => ({ status: 0, body: error.message }));
    // 413, or the connection closed before the whole body was sent: either way it was not read
    expect([413, 0]).toContain(huge.status);
    const crash = await sendRaw(cloud.endpoints.lambda, { method: 'POST', path: '/2015-03-31/functions/%E0%A4%A/invocations', headers: {}, body: '{}' }, signedAsBare('lambda'));
    expect(crash.status).toBe(400);
    expect((await sendRaw(cloud.endpoints.sqs, listQueues, signedAsBare('sqs'))).status).toBe(400);
  });
});
