import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { withExampleAssembly } from '../helpers/example-assembly.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';

/**
 * The AWS CLI v2 (Debian's awscli) is a client nobody here wrote: if it can read and invoke against the local
 * cloud with nothing but endpoint settings, the emulation is faithful where it matters to users.
 * .ci/run installs it; a machine without it skips this file and says so.
 */
const AWS_CLI = '/usr/bin/aws';
const run = promisify(execFile);
const stateDir = `.local-cloud/awscli-${randomUUID().slice(0, 8)}`;
let cloud: LocalCloud;
let outputs: Record<string, string>;

/** Debian's CLI (2.9) predates AWS_ENDPOINT_URL_*, so each call names its endpoint, as a user of it would. */
async function aws(args: string[]): Promise<any> {
  const service = args[0] as 'sqs' | 'sns' | 'dynamodb' | 'lambda';
  const { stdout } = await run(AWS_CLI, [...args, '--endpoint-url', cloud.endpoints[service], '--output', 'json'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: cloud.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cloud.credentials.secretAccessKey,
      AWS_REGION: cloud.endpoints.region,
      AWS_ENDPOINT_URL_SQS: cloud.endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: cloud.endpoints.dynamodb,
      AWS_ENDPOINT_URL_LAMBDA: cloud.endpoints.lambda,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    },
  });
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}

describe.skipIf(!existsSync(AWS_CLI))('AWS CLI v2 against the local cloud', () => {
  beforeAll(async () => {
    cloud = await startLocalCloud({ stateDir: withExampleAssembly(stateDir), sharedDynamoDb: sharedDynamoDb('aws-cli') });
    outputs = cloud.outputs.DeliveryPolicies!;
  });
  afterAll(async () => {
    await cloud?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('reads an order the SDK sent, applied, with `aws dynamodb get-item`', async () => {
    // Debian's CLI 2.9 speaks SQS's older Query protocol, which the emulator does not serve; the message goes in
    // through the AWS SDK (JSON protocol, as current CLIs use) and the effect is read back by the CLI.
    const orderId = `cli-${randomUUID().slice(0, 8)}`;
    const sqs = new SQSClient({ region: cloud.endpoints.region, endpoint: cloud.endpoints.sqs, credentials: cloud.credentials });
    await sqs.send(new SendMessageCommand({ QueueUrl: outputs.ordersQueueUrl!, MessageBody: JSON.stringify({ orderId, customerId: 'c-cli', items: [{ sku: 'banana', quantity: 6 }] }) }));
    sqs.destroy();

    // Waited for through the SDK (each run of the CLI costs most of a second of CPU), then read with the CLI.
    const key = { pk: `order#${orderId}`, sk: 'order' };
    const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: cloud.endpoints.region, endpoint: cloud.endpoints.dynamodb, credentials: cloud.credentials }));
    await eventually(async () => (await dynamo.send(new GetCommand({ TableName: outputs.StateTableName!, Key: key, ConsistentRead: true }))).Item, (found) => found !== undefined);
    dynamo.destroy();
    const { Item } = await aws(['dynamodb', 'get-item', '--table-name', outputs.StateTableName!, '--key', JSON.stringify({ pk: { S: key.pk }, sk: { S: key.sk } }), '--consistent-read']);
    expect(Item).toMatchObject({ orderId: { S: orderId }, status: { S: 'accepted' } });
  });

  it('discovers what runs with `aws lambda list-functions`, `get-function-configuration` and `list-event-source-mappings`', async () => {
    const consumer = outputs.ordersConsumerFunctionName!;
    const { Functions } = await aws(['lambda', 'list-functions']);
    expect(Functions.map((fn: { FunctionName: string }) => fn.FunctionName)).toEqual(expect.arrayContaining([consumer, outputs.quotesPrimaryFunctionName]));

    const configuration = await aws(['lambda', 'get-function-configuration', '--function-name', consumer]);
    expect(configuration).toMatchObject({
      FunctionName: consumer,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
      Timeout: 10,
      State: 'Active',
      Environment: { Variables: expect.objectContaining({ CHANNEL_NAME: 'orders' }) },
    });
    expect((await aws(['lambda', 'get-function', '--function-name', consumer])).Configuration).toStrictEqual(configuration);

    const { EventSourceMappings } = await aws(['lambda', 'list-event-source-mappings', '--function-name', consumer]);
    expect(EventSourceMappings).toStrictEqual([
      expect.objectContaining({ EventSourceArn: expect.stringContaining(':sqs:'), BatchSize: 10, ScalingConfig: { MaximumConcurrency: 5 }, FunctionResponseTypes: ['ReportBatchItemFailures'], State: 'Enabled' }),
    ]);
  });

  it('lists the subscriptions with `aws sns list-subscriptions`, and publishes an event every subscriber takes with `aws sns publish`', async () => {
    const topicArn = outputs.orderPlacedTopicArn!;
    const { Subscriptions } = await aws(['sns', 'list-subscriptions']);
    const subscribed = Subscriptions.filter((subscription: { TopicArn: string }) => subscription.TopicArn === topicArn);
    expect(subscribed.map((subscription: { Protocol: string; Endpoint: string }) => `${subscription.Protocol} ${subscription.Endpoint.split(':').pop()}`).sort()).toStrictEqual(
      [outputs.billingQueueUrl!, outputs.shippingQueueUrl!, outputs.salesAlertsQueueUrl!].map((url) => `sqs ${url.split('/').pop()}`).sort(),
    );

    const orderId = `cli-${randomUUID().slice(0, 8)}`;
    const event = JSON.stringify({ orderId, customerId: 'c-cli', totalCents: 150_000 });
    const attributes = JSON.stringify({ correlationId: { DataType: 'String', StringValue: `placed-${orderId}` } });
    const { MessageId } = await aws(['sns', 'publish', '--topic-arn', topicArn, '--message', event, '--message-attributes', attributes]);
    expect(MessageId).toEqual(expect.any(String));

    const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: cloud.endpoints.region, endpoint: cloud.endpoints.dynamodb, credentials: cloud.credentials }));
    const read = (pk: string, sk: string) => async () => (await dynamo.send(new GetCommand({ TableName: outputs.StateTableName!, Key: { pk, sk }, ConsistentRead: true }))).Item;
    expect(await eventually(read(`invoice#${orderId}`, 'invoice'), (found) => found !== undefined)).toMatchObject({ amountCents: 150_000, correlationId: `placed-${orderId}` });
    expect(await eventually(read('alert#sales', `order#${orderId}`), (found) => found !== undefined)).toMatchObject({ totalCents: 150_000 });
    dynamo.destroy();
  });

  it('invokes a responder with `aws lambda invoke`', async () => {
    const file = `${stateDir}/answer.json`;
    const result = await aws([
      'lambda', 'invoke',
      '--function-name', outputs.quotesPrimaryFunctionName!,
      '--cli-binary-format', 'raw-in-base64-out',
      '--payload', JSON.stringify({ sku: 'apple', quantity: 4 }),
      file,
    ]);
    expect(result).toMatchObject({ StatusCode: 200 });
    expect(result.FunctionError).toBeUndefined();
    const { readFileSync } = await import('node:fs');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toStrictEqual({ sku: 'apple', quantity: 4, unitPriceCents: 45, totalCents: 180, source: 'live' });
  });
});
