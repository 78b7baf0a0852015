import { CloudFormationClient, DescribeStacksCommand, type CloudFormationClientConfig } from '@aws-sdk/client-cloudformation';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SenderEnv } from '../policy/index.ts';
import { LocalCloudNotRunning, MissingRegion, StackNotDeployed, translateAwsError } from './errors.ts';

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
  /**
   * Passed to every AWS SDK client made for this application, discovery's included: credentials, maxAttempts,
   * requestHandler, logger, retryMode. Region and endpoints come from the options above.
   */
  readonly clientConfig?: AwsClientConfig;
}

/** The AWS SDK client settings a caller may pass through, as every v3 client takes them. */
export type AwsClientConfig = Pick<CloudFormationClientConfig, 'credentials' | 'maxAttempts' | 'requestHandler' | 'logger' | 'retryMode'>;

/** Where a deployed application's services answer, and its stack outputs. */
export interface Discovered {
  readonly target: Target;
  readonly region: string;
  /** Per-service endpoint overrides; empty for AWS, where the SDK's defaults apply. */
  readonly endpoints: { readonly sqs?: string; readonly sns?: string; readonly dynamodb?: string; readonly lambda?: string; readonly cloudwatch?: string };
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
  if (options.target === 'aws') {
    const outputs = outputsFromEnvironment();
    if (outputs) {
      const region = options.region ?? process.env.AWS_REGION;
      if (!region) throw new MissingRegion();
      return { target: 'aws', region, endpoints: {}, outputs };
    }
  }
  const localstack = options.target === 'localstack';
  const endpoint = localstack ? (options.endpoint ?? process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566') : options.endpoint;
  const region = options.region ?? (localstack ? 'us-east-1' : undefined);
  const credentials = localstack ? { accessKeyId: 'test', secretAccessKey: 'test' } : undefined;
  const cloudFormation = new CloudFormationClient({ maxAttempts: 2, ...options.clientConfig, region, endpoint, ...(credentials ? { credentials } : {}) });
  try {
    const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey!, output.OutputValue!]));
    const resolvedRegion = await cloudFormation.config.region();
    const services = endpoint ? { sqs: endpoint, sns: endpoint, dynamodb: endpoint, lambda: endpoint, cloudwatch: endpoint } : {};
    return { target: options.target, region: resolvedRegion, endpoints: services, credentials, outputs };
  } catch (error) {
    throw translateDiscoveryError(error, options.target, stackName, endpoint);
  } finally {
    cloudFormation.destroy();
  }
}

/**
 * A function granted access to channels (ChannelCatalog's grants) carries the outputs it needs in its environment;
 * there they are, as DescribeStacks would give them, with no call made.
 */
function outputsFromEnvironment(): Record<string, string> | undefined {
  const outputs = Object.fromEntries(
    Object.entries(process.env)
      .filter(([name, value]) => name.startsWith(SenderEnv.prefix) && value)
      .map(([name, value]) => [name.slice(SenderEnv.prefix.length), value!]),
  );
  return Object.keys(outputs).length > 0 ? outputs : undefined;
}

function discoverLocal(options: DiscoveryOptions, stackName: string): Discovered {
  const dir = resolve(options.localStateDir ?? process.env.MSG_LOCAL_STATE_DIR ?? '.local-cloud');
  let outputs: Record<string, Record<string, string>>;
  let endpoints: { region: string; sqs: string; sns?: string; dynamodb: string; lambda: string; pid?: number; credentials?: { accessKeyId: string; secretAccessKey: string } };
  try {
    outputs = JSON.parse(readFileSync(join(dir, 'outputs.json'), 'utf8'));
    endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8'));
  } catch {
    throw new LocalCloudNotRunning(`the local cloud is not running (no ${join(dir, 'endpoints.json')}); start it with "npm start"`);
  }
  // A local cloud that was killed leaves its files behind; the process that wrote them says whether it still serves.
  if (endpoints.pid !== undefined && !processAlive(endpoints.pid)) {
    throw new LocalCloudNotRunning(`the local cloud that wrote ${join(dir, 'endpoints.json')} (process ${endpoints.pid}) is no longer running; start it with "npm start"`);
  }
  if (!endpoints.credentials) throw new LocalCloudNotRunning(`${join(dir, 'endpoints.json')} names no credentials: it was written by an older local cloud; restart it with "npm start"`);
  const stackOutputs = outputs[stackName];
  if (!stackOutputs) throw new StackNotDeployed(`the local cloud runs no stack named ${stackName} (it runs: ${Object.keys(outputs).join(', ')})`);
  return {
    target: 'local',
    region: endpoints.region,
    endpoints: { sqs: endpoints.sqs, sns: endpoints.sns, dynamodb: endpoints.dynamodb, lambda: endpoints.lambda },
    // The developer's key, which the local cloud made for its state folder: it checks every request's signature.
    credentials: endpoints.credentials,
    outputs: stackOutputs,
  };
}

function translateDiscoveryError(error: unknown, target: Target, stackName: string, endpoint: string | undefined): unknown {
  if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
    const deploy = target === 'localstack' ? '"npm run localstack:deploy"' : '"npm run deploy"';
    return new StackNotDeployed(`stack ${stackName} is not deployed on ${target}; deploy it with ${deploy}`, { cause: error });
  }
  return translateAwsError(error, `${target}${endpoint ? ` at ${endpoint}` : ''}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: string }).code === 'EPERM';
  }
}
