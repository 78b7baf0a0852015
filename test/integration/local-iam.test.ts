import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, UsageMeter, type LocalCloud } from '../../local/index.ts';
import { synthesizeFixture } from '../fixtures/local-cloud/app.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';
import { sendRaw } from '../helpers/signed-request.ts';
import { withExampleAssembly } from '../helpers/example-assembly.ts';
import { LifecycleKeys, OutputKey } from '../../lib/policy/index.ts';

/**
 * IAM in the local cloud, on the fixture's writer deployed twice: GrantedWriter holds grants on the Audit table, the
 * inbox and sealed queues and the responder; UngrantedWriter only the Records grant. Each call is made by the
 * function with its own credentials, and its outcome is what the SDK raised inside the function.
 */

const stateDir = `.local-cloud/test-${randomUUID().slice(0, 8)}`;
let enforced: LocalCloud;
let unchecked: LocalCloud;
let out: Record<string, string>;
let cdkOut: string;
const meter = new UsageMeter();

beforeAll(async () => {
  cdkOut = synthesizeFixture(`${stateDir}/cdk.out`);
  [enforced, unchecked] = await Promise.all([
    startLocalCloud({ cdkOut, stateDir: `${stateDir}/enforced`, meter, sharedDynamoDb: sharedDynamoDb('iam-enforced') }),
    startLocalCloud({ cdkOut, stateDir: `${stateDir}/unchecked`, iam: false, sharedDynamoDb: sharedDynamoDb('iam-unchecked') }),
  ]);
  out = enforced.outputs.Fixture!;
});

afterAll(async () => {
  await Promise.all([enforced?.stop(), unchecked?.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
});

type Outcome = { ok: true } | { ok: false; name: string; message: string };

/** The last call the cloud's IAM refused a function for an action. */
const lastDenial = (cloud: LocalCloud, functionName: string, action: string) =>
  cloud.denials().findLast((denial) => denial.functionName === functionName && denial.action === action);

async function call(cloud: LocalCloud, writer: 'GrantedWriter' | 'UngrantedWriter', request: Record<string, unknown>): Promise<Outcome> {
  const lambda = new LambdaClient({ region: cloud.endpoints.region, credentials: cloud.credentials, endpoint: cloud.endpoints.lambda });
  const { Payload, FunctionError } = await lambda.send(new InvokeCommand({ FunctionName: cloud.outputs.Fixture![`${writer}Name`], Payload: JSON.stringify(request) }));
  lambda.destroy();
  expect(FunctionError).toBeUndefined();
  return JSON.parse(Buffer.from(Payload!).toString()) as Outcome;
}

const auditItem = async (cloud: LocalCloud, key: string) => {
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: cloud.endpoints.region, credentials: cloud.credentials, endpoint: cloud.endpoints.dynamodb }));
  const { Item } = await dynamo.send(new GetCommand({ TableName: cloud.outputs.Fixture!.AuditTable, Key: { pk: key }, ConsistentRead: true }));
  dynamo.destroy();
  return Item;
};

describe('Local cloud: IAM enforced on what functions call', () => {
  it('refuses a write to a table the role has no grant on, as AWS does, and writes nothing', async () => {
    const key = randomUUID();
    const outcome = await call(enforced, 'UngrantedWriter', { put: out.AuditTable, key });
    expect(outcome).toStrictEqual({
      ok: false,
      name: 'AccessDeniedException',
      message: expect.stringMatching(
        new RegExp(
          `^User: arn:aws:sts::000000000000:assumed-role/[^/]+/${out.UngrantedWriterName} is not authorized to perform: dynamodb:PutItem ` +
            `on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${out.AuditTable} because no identity-based policy allows the dynamodb:PutItem action$`,
        ),
      ),
    });
    expect(await auditItem(enforced, key)).toBeUndefined();
    // What AWS's message leaves out: the statement that came closest, and the grant that would allow the call.
    expect(lastDenial(enforced, out.UngrantedWriterName!, 'dynamodb:PutItem')).toMatchObject({
      resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${out.AuditTable}`,
      why: expect.stringMatching(new RegExp(`^statement #\\d+ of policy \\S+ allows dynamodb:PutItem only on .*table/${out.RecordsTable}`)),
      grant: expect.stringContaining('table.grantReadWriteData(fn)'),
    });
  });

  it('allows the same write from the function granted it', async () => {
    const key = randomUUID();
    expect(await call(enforced, 'GrantedWriter', { put: out.AuditTable, key })).toStrictEqual({ ok: true });
    expect(await auditItem(enforced, key)).toStrictEqual({ pk: key });
  });

  it('checks each item of a transaction by its own action and table', async () => {
    const key = randomUUID();
    const outcome = await call(enforced, 'UngrantedWriter', { transact: [out.RecordsTable, out.AuditTable], key });
    expect(outcome).toMatchObject({ ok: false, name: 'AccessDeniedException', message: expect.stringContaining(`dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${out.AuditTable} `) });
    expect(await call(enforced, 'UngrantedWriter', { transact: [out.RecordsTable], key })).toStrictEqual({ ok: true });
  });

  it('refuses a send to a queue without sqs:SendMessage, and allows it with the grant', async () => {
    const denied = await call(enforced, 'UngrantedWriter', { send: out.InboxQueueUrl });
    expect(denied).toMatchObject({ ok: false, name: 'AccessDenied', message: expect.stringContaining('is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:') });
    expect(await call(enforced, 'GrantedWriter', { send: out.InboxQueueUrl })).toStrictEqual({ ok: true });
  });

  it('refuses a publish to a topic without sns:Publish, and allows it with the grant', async () => {
    const denied = await call(enforced, 'UngrantedWriter', { publish: out.BulletinArn });
    expect(denied).toMatchObject({ ok: false, name: 'AuthorizationErrorException', message: expect.stringContaining(`is not authorized to perform: sns:Publish on resource: ${out.BulletinArn}`) });
    expect(await call(enforced, 'GrantedWriter', { publish: out.BulletinArn })).toStrictEqual({ ok: true });
  });

  it("delivers a topic's events only where the queue's policy lets the topic send, and moves the others to the subscription's DLQ, as SNS does", async () => {
    const sqs = new SQSClient({ region: enforced.endpoints.region, credentials: enforced.credentials, endpoint: enforced.endpoints.sqs });
    const sns = new SNSClient({ region: enforced.endpoints.region, credentials: enforced.credentials, endpoint: enforced.endpoints.sns });
    const body = `bulletin ${randomUUID()}`;
    await sns.send(new PublishCommand({ TopicArn: out.BulletinArn, Message: body }));
    const bodies = async (queueUrl: string) => ((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))).Messages ?? []).map((message) => message.Body);
    // fauxqs delivers within the Publish call, so each queue holds what it will ever get of this event.
    expect(await bodies(out.BulletinReadersUrl!)).toContain(body);
    expect(await bodies(out.BulletinUndeliveredUrl!)).toContain(body);
    expect(await bodies(out.ClosedQueueUrl!)).toStrictEqual([]);
    expect(enforced.skipped).toContainEqual(expect.stringMatching(/ClosedSubscription.*: the policy of \S*ClosedQueue\S* does not let \S*Bulletin\S* send to it; as in AWS, its deliveries go to the subscription's DLQ/));
    sqs.destroy();
    sns.destroy();
  });

  it("refuses what a queue policy explicitly denies, whatever the role's own policy allows", async () => {
    const outcome = await call(enforced, 'GrantedWriter', { send: out.SealedQueueUrl });
    expect(outcome).toMatchObject({ ok: false, name: 'AccessDenied', message: expect.stringMatching(/sqs:SendMessage on resource: \S+ with an explicit deny in a resource-based policy$/) });
    expect(lastDenial(enforced, out.GrantedWriterName!, 'sqs:SendMessage')?.why).toMatch(/^statement \S+ of the resource's policy denies it/);
  });

  it('refuses an invocation of another function without lambda:InvokeFunction, and allows it with the grant', async () => {
    const denied = await call(enforced, 'UngrantedWriter', { invoke: out.ResponderName });
    expect(denied).toMatchObject({ ok: false, name: 'AccessDeniedException', message: expect.stringContaining(`lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:${out.ResponderName}`) });
    expect(await call(enforced, 'GrantedWriter', { invoke: out.ResponderName })).toStrictEqual({ ok: true });
  });

  it('meters what each allowed call would be billed, as the gateways see it, and a refused one not (bench:cost)', async () => {
    meter.reset();
    await call(enforced, 'GrantedWriter', { put: out.AuditTable, key: randomUUID() });
    await call(enforced, 'GrantedWriter', { send: out.InboxQueueUrl });
    await call(enforced, 'UngrantedWriter', { send: out.InboxQueueUrl });
    await call(enforced, 'GrantedWriter', { publish: out.BulletinArn });
    await call(enforced, 'UngrantedWriter', { publish: out.BulletinArn });
    const usage = meter.snapshot();
    expect(usage.snsPublishes).toBe(1);
    // The mappings' empty receives run meanwhile; the functions' own calls are these.
    expect(Object.entries(usage.sqsRequests).filter(([operation]) => operation !== 'ReceiveMessage (empty)')).toStrictEqual([['SendMessage', 1]]);
    expect(usage.dynamodb).toStrictEqual({ PutItem: { calls: 1, readUnits: 0, writeUnits: 1 } });
    expect(Object.fromEntries(Object.entries(usage.lambda).map(([name, fn]) => [name, fn.invocations]))).toStrictEqual({ [out.GrantedWriterName!]: 3, [out.UngrantedWriterName!]: 2 });
  });

  it('answers a call it cannot read with 400, and goes on serving', async () => {
    const { environment } = enforced.functions.get(out.UngrantedWriterName!)!.props;
    const credentials = { accessKeyId: environment.AWS_ACCESS_KEY_ID!, secretAccessKey: environment.AWS_SECRET_ACCESS_KEY! };
    const malformed = await sendRaw(
      enforced.endpoints.dynamodb,
      { method: 'POST', path: '/', headers: { 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems', 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ TransactItems: 'not a list' }) },
      { credentials, service: 'dynamodb' },
    );
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ message: expect.stringMatching(/^the local cloud could not read this call: /) });
    expect(await call(enforced, 'GrantedWriter', { put: out.AuditTable, key: randomUUID() })).toStrictEqual({ ok: true });
  });

  it('refuses to meter without IAM, whose gateways do the counting', async () => {
    await expect(startLocalCloud({ cdkOut, stateDir: `${stateDir}/unmetered`, iam: false, meter: new UsageMeter() })).rejects.toThrow(
      'metering counts calls at the IAM gateways: it needs iam',
    );
  });

  it("leaves the developer's own calls unchecked", async () => {
    const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: enforced.endpoints.region, credentials: enforced.credentials, endpoint: enforced.endpoints.dynamodb }));
    const key = randomUUID();
    await dynamo.send(new PutCommand({ TableName: out.AuditTable, Item: { pk: key } }));
    dynamo.destroy();
    expect(await auditItem(enforced, key)).toStrictEqual({ pk: key });
  });

  it('lets every call through with iam: false (msg local --no-iam), and then lists the IAM resources as not emulated', async () => {
    const key = randomUUID();
    expect(await call(unchecked, 'UngrantedWriter', { put: unchecked.outputs.Fixture!.AuditTable, key })).toStrictEqual({ ok: true });
    expect(await auditItem(unchecked, key)).toStrictEqual({ pk: key });
    expect(unchecked.iam).toStrictEqual({ enforced: false, exceptions: [] });
    expect(unchecked.skipped).toEqual(expect.arrayContaining([expect.stringMatching(/AWS::IAM::Role \(not emulated locally\)/)]));
  });
});

describe('Local cloud: IAM enforced on the example app, least privilege by construction', () => {
  // Each consumer signs as itself, with the credentials the local cloud gave its instances.
  let example: LocalCloud;
  const stateDirOfExample = `${stateDir}/example`;
  beforeAll(async () => {
    example = await startLocalCloud({ stateDir: withExampleAssembly(stateDirOfExample), sharedDynamoDb: sharedDynamoDb('iam-example') });
  });
  afterAll(() => example?.stop());

  const asConsumer = (channel: string) => {
    const { environment } = example.functions.get(example.outputs.DeliveryPolicies![OutputKey.consumerFunctionName(channel)]!)!.props;
    const credentials = { accessKeyId: environment.AWS_ACCESS_KEY_ID!, secretAccessKey: environment.AWS_SECRET_ACCESS_KEY! };
    return DynamoDBDocumentClient.from(new DynamoDBClient({ region: example.endpoints.region, endpoint: example.endpoints.dynamodb, credentials, maxAttempts: 1 }));
  };
  const lifecycleTable = () => example.outputs.DeliveryPolicies![OutputKey.lifecycleTableName]!;
  const refusal = (call: Promise<unknown>) => call.then(() => 'allowed', (error: Error) => error.name);

  it("denies the fire-and-forget consumer deleting, or reading, a guaranteed channel's lifecycle record", async () => {
    const presence = asConsumer('presence');
    const key = { [LifecycleKeys.partitionKey]: LifecycleKeys.of('orders', randomUUID()) };
    expect(await refusal(presence.send(new DeleteCommand({ TableName: lifecycleTable(), Key: key })))).toBe('AccessDeniedException');
    expect(await refusal(presence.send(new GetCommand({ TableName: lifecycleTable(), Key: key })))).toBe('AccessDeniedException');
    presence.destroy();
  });

  it("lets the orders consumer read its own records, and denies it another channel's, a Scan, a Query and the state table's other items", async () => {
    const orders = asConsumer('orders');
    const own = { [LifecycleKeys.partitionKey]: LifecycleKeys.of('orders', randomUUID()) };
    expect(await refusal(orders.send(new GetCommand({ TableName: lifecycleTable(), Key: own })))).toBe('allowed');
    expect(await refusal(orders.send(new GetCommand({ TableName: lifecycleTable(), Key: { pk: LifecycleKeys.of('invoices', 'x') } })))).toBe('AccessDeniedException');
    expect(await refusal(orders.send(new ScanCommand({ TableName: lifecycleTable() })))).toBe('AccessDeniedException');
    expect(await refusal(orders.send(new QueryCommand({ TableName: lifecycleTable(), KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': own.pk } })))).toBe('AccessDeniedException');
    const state = example.outputs.DeliveryPolicies![OutputKey.stateTableName]!;
    expect(await refusal(orders.send(new PutCommand({ TableName: state, Item: { pk: `presence#lobby`, sk: 'user#x' } })))).toBe('AccessDeniedException');
    // The denial names the condition that decided it, what the call had, and the grant that would allow it.
    expect(lastDenial(example, example.outputs.DeliveryPolicies![OutputKey.consumerFunctionName('orders')]!, 'dynamodb:PutItem')).toMatchObject({
      why: expect.stringContaining('allows it only where ForAllValues:StringLike dynamodb:LeadingKeys ["order#*"], and the request has ["presence#lobby"]'),
      grant: expect.stringContaining("stateAccess: { channel: { write: ['prefix#'] } }"),
    });
    expect(await refusal(orders.send(new PutCommand({ TableName: state, Item: { pk: `order#${randomUUID()}`, sk: 'order' } })))).toBe('allowed');
    orders.destroy();
  });
});
