import { AssetHashType, DockerImage, Duration, RemovalPolicy, Validations, type ILocalBundling } from 'aws-cdk-lib';
import { Architecture, Code, Function as LambdaFunction, LoggingFormat, RecursiveLoop, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { dirname, join } from 'node:path';
import { FunctionEnv, type DeliveryPolicy } from '../policy/index.ts';
import { forLocalStack } from './target.ts';

export interface ConsumerFunctionProps {
  /** The channel the function serves. */
  readonly channel: string;
  /** The resolved policy; serialised into the function's environment for the runtime to obey. */
  readonly policy: DeliveryPolicy;
  /** Path of the handler module, exporting `handler`. */
  readonly entry: string;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly stateTableName: string;
  /** Extra variables (queue URLs). */
  readonly environment?: Record<string, string>;
  /** @default RetentionDays.ONE_YEAR (AWS Control Tower's proactive control CT.CLOUDWATCH.PR.2 asks for a year) */
  readonly logRetention?: RetentionDays;
}

/**
 * The function every consumer and responder runs in: Node.js 22 on arm64, its handler bundled by esbuild into one
 * minified ES module with source maps, the AWS SDK included. No reserved concurrency: on a queue consumer it
 * throttles messages into the DLQ; concurrency is capped on the event source mapping instead.
 *
 * Bundled here with esbuild's API rather than by NodejsFunction, which runs `npx esbuild` once per function: npm's
 * start-up took 0.7 s of CPU each time, most of a synth's time for an app of a few channels.
 */
export class ConsumerFunction extends LambdaFunction {
  public constructor(scope: Construct, id: string, props: ConsumerFunctionProps) {
    const logGroup = forLocalStack(scope) ? undefined : new LogGroup(scope, `${id}Logs`, { retention: props.logRetention ?? RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.DESTROY });
    if (logGroup) {
      Validations.of(logGroup).acknowledge({
        id: 'cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check',
        reason: "CloudWatch Logs encrypts every log group at rest with its own keys; a customer-managed key adds a key, its policy and its cost per log group's stack, and is the team's choice, not the template's.",
      });
    }
    super(scope, id, {
      code: bundledHandler(props.entry),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: Duration.seconds(props.timeoutSeconds),
      memorySize: props.memorySizeMb,
      loggingFormat: LoggingFormat.JSON,
      // Stated, not left to the default: a consumer that sends to its own queue is stopped after 16 loops.
      recursiveLoop: RecursiveLoop.TERMINATE,
      // An explicit log group, not logRetention, which would add a custom-resource function to every stack.
      ...(logGroup ? { logGroup } : {}),
      environment: {
        [FunctionEnv.channelName]: props.channel,
        [FunctionEnv.channelPolicy]: JSON.stringify(props.policy),
        [FunctionEnv.stateTableName]: props.stateTableName,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    });
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "The managed basic execution role only lets the function write its own CloudWatch logs; an inline copy would grant the same.",
      },
      {
        id: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
        reason: 'These functions call only AWS APIs (SQS, DynamoDB, Lambda) over HTTPS; a VPC would add NAT or endpoint costs and nothing to reach. Put them in one when a handler needs private resources.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'The template pins nodejs22.x on purpose: the same Node line as .nvmrc and the local cloud, so what is tested is what runs.',
      },
    );
  }
}

/**
 * The handler module bundled into index.mjs (and its source map) when the stack is synthesized, and hashed by that
 * output, so that an unchanged bundle is an unchanged asset. The handler's folder is the asset's source only in name.
 */
function bundledHandler(entry: string): Code {
  return Code.fromAsset(dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always answers, and a failure is an error, not a reason to try Docker.
      image: DockerImage.fromRegistry('esbuild-runs-locally'),
      local: new EsbuildBundling(entry, resolutionConditions()),
    },
  });
}

/**
 * esbuild's API as CDK's local bundler. Its fields are data on purpose: CDK caches a synth's assets by their source
 * folder and options, and a primary and a fallback in one folder would otherwise share the first one's bundle.
 */
class EsbuildBundling implements ILocalBundling {
  public readonly entry: string;
  public readonly conditions: readonly string[];

  public constructor(entry: string, conditions: readonly string[]) {
    this.entry = entry;
    this.conditions = conditions;
  }

  public tryBundle(outputDir: string): boolean {
    buildSync({
      entryPoints: [this.entry],
      outfile: join(outputDir, 'index.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      // Error class names are how logs, lifecycle reasons and DLQ attributes say what failed.
      keepNames: true,
      sourcemap: true,
      mainFields: ['module', 'main'],
      // The AWS SDK is bundled, not left to the one Lambda's runtime provides: its clients then load as one minified
      // module, 18% sooner at INIT on the machine this is built on (npm run bench:bundles compares both), and the
      // handler runs the SDK version it was tested with.
      // Some dependencies are CommonJS and call require(); an ES module has none unless it makes one.
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      ...(this.conditions.length > 0 ? { conditions: [...this.conditions] } : {}),
      logLevel: 'error',
    });
    return true;
  }
}

/**
 * The package-resolution conditions this process runs with (`--conditions`, `-C`, also through NODE_OPTIONS).
 * Handlers are bundled resolving packages as the app that declares them was resolved, so an app that runs a
 * library from its TypeScript source under a custom condition (as this repository runs its own) bundles that
 * source too, and an app without one bundles the published build.
 */
function resolutionConditions(): string[] {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return args.flatMap((arg, index) => {
    const flag = /^(?:--conditions|-C)(?:=(.+))?$/.exec(arg);
    const value = flag && (flag[1] ?? args[index + 1]);
    return value ? [value] : [];
  });
}
