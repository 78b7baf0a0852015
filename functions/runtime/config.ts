import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FunctionEnv } from '../../lib/policy/index.ts';
import { ConsumerConfigurationError } from './errors.ts';

/** Where a consumer's channel lives; read from the environment the constructs set, or given by a test. */
export interface ChannelEndpoints {
  /** The application's data, which handlers write (MessageContext.tableName). */
  readonly tableName: string;
  /** The lifecycle records; a guaranteed consumer needs it. */
  readonly lifecycleTableName?: string;
  readonly queueUrl?: string;
  readonly deadLetterQueueUrl?: string;
  /** A channel that keeps replies: the prefix of the callers' reply queues, which its notices may go to. */
  readonly replyQueuePrefix?: string;
}

/** The clients a consumer talks through; default ones honour AWS_ENDPOINT_URL_* so the local cloud redirects them. */
export interface ConsumerClients {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
  /** For onward events. @default - made on the first publish, so a consumer that publishes nothing loads no SNS client */
  readonly sns?: SNSClient;
}

export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): ChannelEndpoints {
  const tableName = env[FunctionEnv.stateTableName];
  if (!tableName) throw new ConsumerConfigurationError(`${FunctionEnv.stateTableName} is not set`);
  return {
    tableName,
    lifecycleTableName: env[FunctionEnv.lifecycleTableName],
    queueUrl: env[FunctionEnv.queueUrl],
    deadLetterQueueUrl: env[FunctionEnv.deadLetterQueueUrl],
    replyQueuePrefix: env[FunctionEnv.replyQueuePrefix],
  };
}

export function defaultClients(): ConsumerClients {
  return {
    sqs: new SQSClient({}),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
  };
}
