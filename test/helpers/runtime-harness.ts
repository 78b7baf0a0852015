import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startSqsEmulator, type RunningEmulator } from '../../local/emulators.ts';
import { LifecycleKeys, MessageAttribute, StateKeys } from '../../lib/policy/index.ts';
import type { SharedDynamoDb } from '../../local/index.ts';
import { toRecord } from '../../local/sqs-event-source.ts';
import { sharedDynamoDb } from './shared-dynamodb.ts';

/**
 * Real DynamoDB Local (the run's shared one) and fauxqs, a state table of its own, and queue + DLQ pairs: what a
 * consumer runs against in AWS.
 */
export class RuntimeHarness {
  public sqs!: SQSClient;
  /** SNS, which fauxqs serves on the same endpoint as SQS. */
  public sns!: SNSClient;
  public dynamo!: DynamoDBDocumentClient;
  public readonly tableName: string;
  /** The lifecycle records' table, keyed as the LifecycleTable construct keys it. */
  public readonly lifecycleTableName: string;
  /** For tests that build a client of their own (with faults injected) against the same DynamoDB Local. */
  public readonly dynamoEndpoint: string;
  #sqsEmulator: RunningEmulator | undefined;

  /** @param dynamodb - the DynamoDB Local to use; the test run's shared one by default */
  public constructor(dynamodb: SharedDynamoDb = sharedDynamoDb('runtime')) {
    const { endpoint, tablePrefix } = dynamodb;
    this.dynamoEndpoint = endpoint;
    this.tableName = `${tablePrefix}state`;
    this.lifecycleTableName = `${tablePrefix}lifecycle`;
  }

  public async start(): Promise<void> {
    this.#sqsEmulator = await startSqsEmulator();
    const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    this.sqs = new SQSClient({ ...common, endpoint: this.#sqsEmulator.endpoint });
    this.sns = new SNSClient({ ...common, endpoint: this.#sqsEmulator.endpoint });
    const raw = new DynamoDBClient({ ...common, endpoint: this.dynamoEndpoint });
    this.dynamo = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    await raw.send(
      new CreateTableCommand({
        TableName: this.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: StateKeys.partitionKey, KeyType: 'HASH' },
          { AttributeName: StateKeys.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: StateKeys.partitionKey, AttributeType: 'S' },
          { AttributeName: StateKeys.sortKey, AttributeType: 'S' },
        ],
      }),
    );
    await raw.send(
      new CreateTableCommand({
        TableName: this.lifecycleTableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: LifecycleKeys.partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: LifecycleKeys.partitionKey, AttributeType: 'S' }],
      }),
    );
  }

  public async stop(): Promise<void> {
    this.sqs?.destroy();
    this.sns?.destroy();
    this.dynamo?.destroy();
    await this.#sqsEmulator?.stop();
  }

  /** A fresh queue with its DLQ; redrive after maxReceiveCount, as the Channel construct deploys it. */
  public async queuePair(options: { maxReceiveCount: number; visibilityTimeoutSeconds?: number; fifo?: boolean }) {
    const suffix = options.fifo ? '.fifo' : '';
    const name = `q${randomUUID().slice(0, 8)}`;
    const fifoAttributes: Record<string, string> = options.fifo ? { FifoQueue: 'true' } : {};
    const dlq = await this.sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq${suffix}`, Attributes: fifoAttributes }));
    const dlqArn = await this.#arn(dlq.QueueUrl!);
    const queue = await this.sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}${suffix}`,
        Attributes: {
          ...fifoAttributes,
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
        },
      }),
    );
    return { queueUrl: queue.QueueUrl!, queueArn: await this.#arn(queue.QueueUrl!), deadLetterQueueUrl: dlq.QueueUrl! };
  }

  public async send(queueUrl: string, body: unknown, options: { correlationId?: string; groupId?: string; attributes?: Record<string, string> } = {}) {
    const attributes = { ...options.attributes, ...(options.correlationId ? { [MessageAttribute.correlationId]: options.correlationId } : {}) };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([key, value]) => [key, { DataType: /^\d+$/.test(value) ? 'Number' : 'String', StringValue: value }]),
        ),
        ...(options.groupId ? { MessageGroupId: options.groupId, MessageDeduplicationId: randomUUID() } : {}),
      }),
    );
  }

  /** Receives up to `count` messages (waiting for them), as Lambda's poller would. */
  public async receive(queueUrl: string, count: number, waitSeconds = 1): Promise<Message[]> {
    const messages: Message[] = [];
    const deadline = Date.now() + waitSeconds * 1000 + 2000;
    while (messages.length < count && Date.now() < deadline) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, count - messages.length),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      messages.push(...Messages);
    }
    return messages;
  }

  public event(messages: Message[], queueArn: string): SQSEvent {
    return { Records: messages.map((message) => toRecord(message, queueArn)) };
  }

  async #arn(queueUrl: string): Promise<string> {
    const { Attributes } = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    return Attributes!.QueueArn!;
  }
}
