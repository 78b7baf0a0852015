import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EndpointUnreachable, LocalCloudNotRunning, MissingCredentials, StackNotDeployed } from './errors.ts';

export type Target = 'local' | 'localstack' | 'aws';

export interface DiscoveryOptions {
  readonly target: Target;
  /** @default 'DeliveryPolicies' */
  readonly stackName?: string;
  /** @default - the SDK's region chain; us-east-1 for local and localstack */
  readonly region?: string;
  /** The local cloud's state folder. @default $MSG_LOCAL_STATE_DIR or '.local-cloud' */
  readonly localStateDir?: string;
  /** LocalStack's edge endpoint. @default $LOCALSTACK_ENDPOINT or 'http://localhost:4566' */
  readonly endpoint?: string;
}

/** Where a deployed application's services answer, and its stack outputs. */
export interface Discovered {
  readonly target: Target;
  readonly region: string;
  /** Per-service endpoint overrides; empty for AWS, where the SDK's defaults apply. */
  readonly endpoints: { readonly sqs?: string; readonly dynamodb?: string; readonly lambda?: string };
  /** Static credentials for emulators that accept any; undefined means the SDK's default chain. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly outputs: Readonly<Record<string, string>>;
}

/**
 * Finds the application: the local cloud's outputs file, or CloudFormation's DescribeStacks for LocalStack and
 * AWS. Only this differs between the three targets; everything after it is the same code.
 */
export async function discover(options: DiscoveryOptions): Promise<Discovered> {
  const stackName = options.stackName ?? 'DeliveryPolicies';
  if (options.target === 'local') return discoverLocal(options, stackName);
  const localstack = options.target === 'localstack';
  const endpoint = localstack ? (options.endpoint ?? process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566') : options.endpoint;
  const region = options.region ?? (localstack ? 'us-east-1' : undefined);
  const credentials = localstack ? { accessKeyId: 'test', secretAccessKey: 'test' } : undefined;
  const cloudFormation = new CloudFormationClient({ region, endpoint, credentials, maxAttempts: 2 });
  try {
    const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey!, output.OutputValue!]));
    const resolvedRegion = await cloudFormation.config.region();
    const services = endpoint ? { sqs: endpoint, dynamodb: endpoint, lambda: endpoint } : {};
    return { target: options.target, region: resolvedRegion, endpoints: services, credentials, outputs };
  } catch (error) {
    throw translateDiscoveryError(error, options.target, stackName, endpoint);
  } finally {
    cloudFormation.destroy();
  }
}

function discoverLocal(options: DiscoveryOptions, stackName: string): Discovered {
  const dir = resolve(options.localStateDir ?? process.env.MSG_LOCAL_STATE_DIR ?? '.local-cloud');
  let outputs: Record<string, Record<string, string>>;
  let endpoints: { region: string; sqs: string; dynamodb: string; lambda: string };
  try {
    outputs = JSON.parse(readFileSync(join(dir, 'outputs.json'), 'utf8'));
    endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8'));
  } catch {
    throw new LocalCloudNotRunning(`the local cloud is not running (no ${join(dir, 'endpoints.json')}); start it with "npm start"`);
  }
  const stackOutputs = outputs[stackName];
  if (!stackOutputs) throw new StackNotDeployed(`the local cloud runs no stack named ${stackName} (it runs: ${Object.keys(outputs).join(', ')})`);
  return {
    target: 'local',
    region: endpoints.region,
    endpoints: { sqs: endpoints.sqs, dynamodb: endpoints.dynamodb, lambda: endpoints.lambda },
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    outputs: stackOutputs,
  };
}

function translateDiscoveryError(error: unknown, target: Target, stackName: string, endpoint: string | undefined): Error {
  const name = (error as { name?: string }).name ?? '';
  const message = (error as Error).message ?? String(error);
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return new MissingCredentials('no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
  }
  if (name === 'ValidationError' && /does not exist/.test(message)) {
    return new StackNotDeployed(`stack ${stackName} is not deployed on ${target}; deploy it with ${target === 'localstack' ? '"npm run localstack:deploy"' : '"npm run deploy"'}`);
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up|connect/i.test(`${name} ${message} ${(error as { code?: string }).code ?? ''}`)) {
    return new EndpointUnreachable(`cannot reach ${target}${endpoint ? ` at ${endpoint}` : ''}: ${message}`);
  }
  return error instanceof Error ? error : new Error(message);
}
