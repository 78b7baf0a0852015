import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FunctionEnv, type DeliveryPolicy } from '../../lib/policy/index.ts';
import { ConsumerConfigurationError } from './errors.ts';

/** Where a consumer's channel lives; read from the environment the constructs set, or given by a test. */
export interface ChannelEndpoints {
  /** The application's data, which handlers write (MessageContext.tableName). */
  readonly tableName: string;
  /** The lifecycle records; a guaranteed consumer needs it. */
  readonly lifecycleTableName?: string;
  readonly queueUrl?: string;
  readonly deadLetterQueueUrl?: string;
}

/** The clients a consumer talks through; default ones honour AWS_ENDPOINT_URL_* so the local cloud redirects them. */
export interface ConsumerClients {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
}

export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): ChannelEndpoints {
  const tableName = env[FunctionEnv.stateTableName];
  if (!tableName) throw new ConsumerConfigurationError(`${FunctionEnv.stateTableName} is not set`);
  return {
    tableName,
    lifecycleTableName: env[FunctionEnv.lifecycleTableName],
    queueUrl: env[FunctionEnv.queueUrl],
    deadLetterQueueUrl: env[FunctionEnv.deadLetterQueueUrl],
  };
}

/**
 * The deployed policy, as the construct serialised it. It wins over the catalog's copy so that a function
 * always obeys what was deployed next to it (retention, receive count), even mid-rollout.
 */
export function policyFromEnv(fallback: DeliveryPolicy, env: NodeJS.ProcessEnv = process.env): DeliveryPolicy {
  const raw = env[FunctionEnv.channelPolicy];
  if (!raw) return fallback;
  const deployed = JSON.parse(raw) as DeliveryPolicy;
  if (deployed.kind !== fallback.kind) {
    throw new ConsumerConfigurationError(`deployed policy is ${deployed.kind} but the handler serves a ${fallback.kind} channel`);
  }
  return deployed;
}

export function defaultClients(): ConsumerClients {
  return {
    sqs: new SQSClient({}),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
  };
}
