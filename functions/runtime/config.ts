import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FunctionEnv, PolicyError, resolvePolicy, type ChannelDefinition, type DeliveryPolicy, type PolicyInput } from '../../lib/policy/index.ts';
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
 * always obeys what was deployed next to it (retention, receive count), even mid-rollout. It is checked as the
 * synth checked it, and the function must have been deployed for this handler's channel: a handler wired to
 * another channel's queue would record its messages under the wrong name and keys.
 */
export function policyFromEnv(channel: ChannelDefinition, env: NodeJS.ProcessEnv = process.env): DeliveryPolicy {
  const deployedFor = env[FunctionEnv.channelName];
  if (deployedFor !== undefined && deployedFor !== channel.name) {
    throw new ConsumerConfigurationError(`this function was deployed for channel ${deployedFor} but its handler serves ${channel.name}`);
  }
  const raw = env[FunctionEnv.channelPolicy];
  if (!raw) return channel.policy;
  const deployed = deployedPolicy(channel.name, raw);
  if (deployed.kind !== channel.policy.kind) {
    throw new ConsumerConfigurationError(`deployed policy is ${deployed.kind} but the handler serves a ${channel.policy.kind} channel`);
  }
  return deployed;
}

function deployedPolicy(channel: string, raw: string): DeliveryPolicy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConsumerConfigurationError(`${FunctionEnv.channelPolicy} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ConsumerConfigurationError(`${FunctionEnv.channelPolicy} is not a policy object`);
  try {
    return resolvePolicy(channel, parsed as PolicyInput);
  } catch (error) {
    if (error instanceof PolicyError) throw new ConsumerConfigurationError(`${FunctionEnv.channelPolicy}: ${error.message}`, { cause: error });
    throw error;
  }
}

export function defaultClients(): ConsumerClients {
  return {
    sqs: new SQSClient({}),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
  };
}
