import {
  CreateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { resourcePolicies } from './iam/identities.ts';
import { evaluate } from './iam/policy.ts';
import { IntrinsicResolver, LOCAL_ACCOUNT, queueArn, tableArn, type ResourceAttributes } from './intrinsics.ts';
import type { SynthesizedStack, TemplateResource } from './template.ts';

/** Queue attributes the emulator keeps and Lambda's semantics depend on; the rest (SSE, tags) have no local meaning. */
const QUEUE_ATTRIBUTES = [
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'MaximumMessageSize',
  'ReceiveMessageWaitTimeSeconds',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
] as const;

export interface ProvisionedQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

export interface ProvisionedTable {
  readonly logicalId: string;
  readonly name: string;
  /** The partition key's attribute: what dynamodb:LeadingKeys conditions read. */
  readonly partitionKey: string;
}

/** A name like CloudFormation's (stack-logicalId), stable across restarts so logs and scripts can rely on it. */
export function physicalName(stackName: string, logicalId: string, suffix = ''): string {
  return `${stackName}-${logicalId}`.slice(0, 80 - suffix.length) + suffix;
}

/**
 * Creates every queue of the stack with its properties. Queues are created first and redrive policies set
 * afterwards, so a DLQ declared after its source still resolves.
 */
export async function provisionQueues(
  sqs: SQSClient,
  sqsEndpoint: string,
  stack: SynthesizedStack,
  built: Map<string, ResourceAttributes>,
): Promise<ProvisionedQueue[]> {
  const queues: ProvisionedQueue[] = [];
  const declared = Object.entries(stack.resources).filter(([, resource]) => resource.Type === 'AWS::SQS::Queue');
  for (const [logicalId, resource] of declared) {
    const properties = resource.Properties ?? {};
    const fifo = properties.FifoQueue === true || properties.FifoQueue === 'true';
    const name = typeof properties.QueueName === 'string' ? properties.QueueName : physicalName(stack.name, logicalId, fifo ? '.fifo' : '');
    const attributes: Record<string, string> = {};
    for (const key of QUEUE_ATTRIBUTES) if (properties[key] !== undefined) attributes[key] = String(properties[key]);
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    // fauxqs names queues sqs.<region>.localhost, which not every resolver knows and which the SDK would then
    // prefer over its endpoint; it serves the same queue at the endpoint's own host, so that form is published.
    const QueueUrl = `${sqsEndpoint}/${LOCAL_ACCOUNT}/${name}`;
    const arn = queueArn(name);
    built.set(logicalId, { ref: QueueUrl, attributes: { Arn: arn, QueueName: name, QueueUrl } });
    queues.push({ logicalId, name, url: QueueUrl, arn });
  }
  const resolver = new IntrinsicResolver(stack.name, built);
  for (const [logicalId, resource] of declared) {
    const redrive = resource.Properties?.RedrivePolicy;
    if (redrive === undefined) continue;
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: built.get(logicalId)!.ref,
        Attributes: { RedrivePolicy: JSON.stringify(resolver.resolve(redrive, `${logicalId}.RedrivePolicy`)) },
      }),
    );
  }
  return queues;
}

export interface ProvisionedTopic {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
}

/**
 * Creates every SNS topic of the stack, then its SQS subscriptions with their raw delivery, filter policy and scope.
 * SNS delivers to a queue only where the queue's policy lets the topic send (sns.amazonaws.com, aws:SourceArn); where
 * it does not, AWS moves each delivery to the subscription's DLQ, or drops it without one: so does the local cloud,
 * by subscribing the DLQ in the queue's place (fauxqs reads no queue policy). What was so rerouted is answered.
 */
export async function provisionTopics(
  sns: SNSClient,
  stack: SynthesizedStack,
  built: Map<string, ResourceAttributes>,
): Promise<{ topics: ProvisionedTopic[]; refused: string[] }> {
  const topics: ProvisionedTopic[] = [];
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    if (resource.Type !== 'AWS::SNS::Topic') continue;
    const properties = resource.Properties ?? {};
    const fifo = properties.FifoTopic === true || properties.FifoTopic === 'true';
    const name = typeof properties.TopicName === 'string' ? properties.TopicName : physicalName(stack.name, logicalId, fifo ? '.fifo' : '');
    const attributes: Record<string, string> = {};
    for (const key of ['FifoTopic', 'ContentBasedDeduplication'] as const) if (properties[key] !== undefined) attributes[key] = String(properties[key]);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
    built.set(logicalId, { ref: TopicArn!, attributes: { TopicArn: TopicArn!, TopicName: name } });
    topics.push({ logicalId, name, arn: TopicArn! });
  }
  const resolver = new IntrinsicResolver(stack.name, built);
  const queuePolicies = resourcePolicies(stack, resolver);
  const refused: string[] = [];
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    if (resource.Type !== 'AWS::SNS::Subscription') continue;
    const properties = resource.Properties ?? {};
    if (properties.Protocol !== 'sqs') {
      refused.push(`${stack.name}: subscription ${logicalId} (protocol ${String(properties.Protocol)}: only SQS subscriptions are delivered locally)`);
      continue;
    }
    const topicArn = resolver.resolveString(properties.TopicArn, `${logicalId}.TopicArn`);
    const queue = resolver.resolveString(properties.Endpoint, `${logicalId}.Endpoint`);
    const redrive = properties.RedrivePolicy === undefined ? undefined : (resolver.resolve(properties.RedrivePolicy, `${logicalId}.RedrivePolicy`) as { deadLetterTargetArn?: string });
    const allowed = evaluate(
      { principalArn: 'sns.amazonaws.com', service: true, account: LOCAL_ACCOUNT, action: 'sqs:SendMessage', resource: queue, context: { 'aws:sourcearn': topicArn, 'aws:sourceaccount': LOCAL_ACCOUNT, 'aws:securetransport': 'true' } },
      [],
      queuePolicies.get(queue),
    ).allowed;
    const endpoint = allowed ? queue : redrive?.deadLetterTargetArn;
    if (!allowed) {
      const where = endpoint ? `its deliveries go to the subscription's DLQ ${endpoint.split(':').pop()}` : 'its deliveries are dropped (the subscription has no DLQ)';
      refused.push(`${stack.name}: subscription ${logicalId}: the policy of ${queue.split(':').pop()} does not let ${topicArn.split(':').pop()} send to it; as in AWS, ${where}`);
    }
    if (!endpoint) continue;
    const attributes: Record<string, string> = {};
    if (properties.RawMessageDelivery !== undefined) attributes.RawMessageDelivery = String(properties.RawMessageDelivery);
    if (properties.FilterPolicy !== undefined) attributes.FilterPolicy = JSON.stringify(resolver.resolve(properties.FilterPolicy, `${logicalId}.FilterPolicy`));
    if (typeof properties.FilterPolicyScope === 'string') attributes.FilterPolicyScope = properties.FilterPolicyScope;
    if (redrive) attributes.RedrivePolicy = JSON.stringify(redrive);
    const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: endpoint, Attributes: attributes, ReturnSubscriptionArn: true }));
    built.set(logicalId, { ref: SubscriptionArn!, attributes: {} });
  }
  return { topics, refused };
}

/**
 * Creates every DynamoDB table (classic and TableV2's global tables) with keys, indexes and TTL; `prefix` goes before
 * each name a table does not set itself, for clouds that share one DynamoDB.
 */
export async function provisionTables(
  dynamodb: DynamoDBClient,
  stack: SynthesizedStack,
  built: Map<string, ResourceAttributes>,
  prefix = '',
): Promise<ProvisionedTable[]> {
  const tables: ProvisionedTable[] = [];
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table' && resource.Type !== 'AWS::DynamoDB::GlobalTable') continue;
    const properties = resource.Properties ?? {};
    const name = typeof properties.TableName === 'string' ? properties.TableName : `${prefix}${physicalName(stack.name, logicalId)}`;
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: properties.KeySchema as KeySchemaElement[],
        AttributeDefinitions: properties.AttributeDefinitions as AttributeDefinition[],
        GlobalSecondaryIndexes: indexes<GlobalSecondaryIndex>(resource, 'GlobalSecondaryIndexes'),
        LocalSecondaryIndexes: indexes<LocalSecondaryIndex>(resource, 'LocalSecondaryIndexes'),
      }),
    );
    const ttl = properties.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.Enabled && ttl.AttributeName) {
      await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
    }
    const arn = tableArn(name);
    built.set(logicalId, { ref: name, attributes: { Arn: arn } });
    const partitionKey = (properties.KeySchema as KeySchemaElement[]).find((key) => key.KeyType === 'HASH')!.AttributeName!;
    tables.push({ logicalId, name, partitionKey });
  }
  return tables;
}

/** Index definitions without the provisioned-throughput and replica settings an on-demand local table rejects. */
function indexes<T>(resource: TemplateResource, key: 'GlobalSecondaryIndexes' | 'LocalSecondaryIndexes'): T[] | undefined {
  const declared = resource.Properties?.[key] as Record<string, unknown>[] | undefined;
  if (!declared || declared.length === 0) return undefined;
  return declared.map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection }) as T);
}
