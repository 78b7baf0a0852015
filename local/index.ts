import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { developerCredentials, functionCredentials } from './credentials.ts';
import { freePort, LOCAL_REGION, requireEmulators, startDynamoDbLocal, startSqsEmulator, type RunningEmulator } from './emulators.ts';
import { buildFunctions, entryModule, functionName, type SkippedFunction } from './functions.ts';
import { IntrinsicResolver, UnresolvableError, type ResourceAttributes } from './intrinsics.ts';
import { InvokeApi } from './invoke-api.ts';
import type { LocalFunction } from './local-function.ts';
import { provisionQueues, provisionTables, provisionTopics, type ProvisionedQueue, type ProvisionedTable, type ProvisionedTopic } from './provision.ts';
import { Authorizer, type Denial } from './iam/authorizer.ts';
import { IamGateway } from './iam/gateway.ts';
import { functionAccessKey, functionIdentities, registerIdentities, resourcePolicies, type FunctionIdentity } from './iam/identities.ts';
import { SignatureVerifier, type Credentials } from './iam/signatures.ts';
import type { PolicyDocument } from './iam/policy.ts';
import type { UsageMeter } from './meter.ts';
import type { CollectedSpan } from './span-collector.ts';
import { LONG_POLL_SECONDS, SqsEventSource } from './sqs-event-source.ts';
import { synthesizeUnlessUnchanged } from './synth.ts';
import { readCloudAssembly, type SynthesizedStack, type TemplateResource } from './template.ts';

export { LocalFunction, TooManyRequestsError, type InvocationResult } from './local-function.ts';
export { UnresolvableError } from './intrinsics.ts';
export type { SqsEventSource } from './sqs-event-source.ts';
export { UsageMeter, type Usage } from './meter.ts';
export type { Denial } from './iam/authorizer.ts';
export type { CollectedSpan } from './span-collector.ts';

/** Resource types that need no local counterpart for the application to behave: listed, never silently wrong. */
const NOT_EMULATED = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::SQS::QueuePolicy',
  'AWS::Logs::LogGroup',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::SNS::TopicPolicy',
  'AWS::KMS::Key',
  'AWS::Lambda::Permission',
  'AWS::CDK::Metadata',
]);

export interface LocalCloudOptions {
  /**
   * A synthesized cloud assembly to run.
   * @default - the app of ./cdk.json synthesized into <stateDir>/cdk.out, or the assembly already there when the
   *   app's sources have not changed since
   */
  readonly cdkOut?: string;
  /** Where outputs.json and endpoints.json are written. @default '.local-cloud' */
  readonly stateDir?: string;
  /** Let the functions' logs through to this process. @default false */
  readonly showFunctionLogs?: boolean;
  /** The app's folder, holding its cdk.json. @default - the working directory */
  readonly appDir?: string;
  /** Synthesize even when the app's sources are unchanged since the last synth. @default false */
  readonly resynthesize?: boolean;
  /** See SynthesisOptions.deferValidation; msg local defers it, and runs it once the cloud is up. @default false */
  readonly deferValidation?: boolean;
  /** Loopback ports for each service; 0 or absent takes a free one. @default - free ports */
  readonly ports?: LocalCloudPorts;
  /**
   * Check every SQS, DynamoDB and Lambda call a function makes against its role's policies, and refuse what AWS
   * would refuse with AccessDenied. Calls from anywhere else are not checked.
   * @default true
   */
  readonly iam?: boolean;
  /**
   * Count every call as AWS would bill it: SQS requests, SNS publishes, DynamoDB request units, Lambda invocations and
   * duration (`bench:cost`). SQS, SNS and DynamoDB calls are counted at the IAM gateways, so this needs `iam`.
   * @default - nothing is counted
   */
  readonly meter?: UsageMeter;
  /**
   * A DynamoDB that is already running, used instead of starting DynamoDB Local: test suites share one JVM this way
   * (each start of its own costs seconds of CPU). The cloud's tables get `tablePrefix` in their names, so that clouds
   * sharing it do not collide, and stay there when it stops.
   * @default - a DynamoDB Local of its own
   */
  readonly sharedDynamoDb?: SharedDynamoDb;
  /** Told of each call the local IAM refuses, with why and the grant that would allow it (`msg local` prints them). */
  readonly onDenied?: (denial: Denial) => void;
  /**
   * Record the functions' OpenTelemetry spans and keep the last 10,000 (`spans()`; the console shows them). Each
   * instance then loads OpenTelemetry's SDK before its bundle, as an ADOT layer would.
   * @default false
   */
  readonly collectSpans?: boolean;
}

export interface SharedDynamoDb {
  readonly endpoint: string;
  readonly tablePrefix: string;
}

export interface LocalCloudPorts {
  readonly sqs?: number;
  readonly sns?: number;
  readonly dynamodb?: number;
  readonly lambda?: number;
}

export interface LocalCloudEndpoints {
  readonly region: string;
  readonly sqs: string;
  /** SNS, served by the SQS emulator (fauxqs) behind a gateway of its own. */
  readonly sns: string;
  readonly dynamodb: string;
  readonly lambda: string;
}

export interface LocalCloud {
  readonly endpoints: LocalCloudEndpoints;
  /** The emulators' own endpoints: behind the IAM gateways when IAM is enforced, else the same as `endpoints`. */
  readonly emulators: { readonly sqs: string; readonly dynamodb: string };
  /** Per stack, its outputs resolved, in the shape `cdk deploy --outputs-file` writes. */
  readonly outputs: Record<string, Record<string, string>>;
  readonly queues: readonly ProvisionedQueue[];
  readonly topics: readonly ProvisionedTopic[];
  readonly tables: readonly ProvisionedTable[];
  readonly functions: ReadonlyMap<string, LocalFunction>;
  /** The SQS event source mappings, polling. */
  readonly mappings: readonly SqsEventSource[];
  /** What was not built, by resource type, with why. */
  readonly skipped: readonly string[];
  /** Milliseconds from the call to ready. */
  readonly startupMs: number;
  /** Whether the functions' calls are checked, and what of them is not (a role or a condition the local cloud cannot read). */
  readonly iam: { readonly enforced: boolean; readonly exceptions: readonly string[] };
  /** The last calls the local IAM refused (up to 100), oldest first, each with why and the grant that would allow it. */
  denials(): readonly Denial[];
  /** The functions' last finished spans (up to 10,000), oldest first: none unless `collectSpans`. */
  spans(): readonly CollectedSpan[];
  /** The developer's credentials: what any client outside the functions signs with (kept in the state folder). */
  readonly credentials: Credentials;
  /**
   * Synthesizes again if the app's sources changed, and runs each function whose bundle changed on its new code,
   * keeping queues, tables and their messages. Changes it cannot apply this way (a resource's properties, a
   * function's settings) are listed: a restart applies them.
   */
  reload(): Promise<ReloadResult>;
  /** Event invocations accepted and not yet done, retries included. */
  pendingEvents(): number;
  stop(): Promise<void>;
}

export interface ReloadResult {
  /** Whether the sources had changed, and the app was synthesized again; nothing else happens when they had not. */
  readonly resynthesized: boolean;
  /** The functions now running new code. */
  readonly updated: readonly string[];
  /** Logical ids of resources whose other changes wait for a restart. */
  readonly restartNeeded: readonly string[];
}

/** Synthesizes (or reads) the application and runs it on loopback: SQS, DynamoDB, Lambda and its event sources. */
/** How many finished spans the cloud keeps: the last ones, enough for a console's recent messages. */
const MAX_SPANS_KEPT = 10_000;

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  // Before the synth: an app that only deploys hears at once what to install.
  requireEmulators();
  const started = Date.now();
  const spans: CollectedSpan[] = [];
  const keepSpans = (finished: readonly CollectedSpan[]) => {
    spans.push(...finished);
    if (spans.length > MAX_SPANS_KEPT) spans.splice(0, spans.length - MAX_SPANS_KEPT);
  };
  const stateDir = resolve(options.stateDir ?? '.local-cloud');
  mkdirSync(stateDir, { recursive: true });
  const appDir = resolve(options.appDir ?? '.');
  const outDir = join(stateDir, 'cdk.out');
  if (!options.cdkOut) {
    await synthesizeUnlessUnchanged(appDir, outDir, { resynthesize: options.resynthesize ?? false, clearFirst: true, deferValidation: options.deferValidation ?? false });
  }
  const assemblyDir = options.cdkOut ? resolve(options.cdkOut) : outDir;
  let stacks = readCloudAssembly(assemblyDir);

  const emulators: RunningEmulator[] = [];
  const functions = new Map<string, LocalFunction>();
  const eventSources: SqsEventSource[] = [];
  let invokeApi: InvokeApi | undefined;
  const gateways: IamGateway[] = [];
  const tables: ProvisionedTable[] = [];
  const stop = async () => {
    rmSync(join(stateDir, 'endpoints.json'), { force: true });
    await Promise.allSettled(eventSources.map((source) => source.stop()));
    await invokeApi?.close();
    await Promise.allSettled(gateways.map((gateway) => gateway.close()));
    await Promise.allSettled([...functions.values()].map((fn) => fn.stop()));
    await Promise.allSettled(emulators.map((emulator) => emulator.stop()));
  };

  try {
    const ports = options.ports ?? {};
    const iam = options.iam ?? true;
    if (options.meter && !iam) throw new Error('metering counts calls at the IAM gateways: it needs iam');
    // A port that is taken fails the start before anything is launched: DynamoDB Local takes seconds to start and stop.
    const wanted = { 'the SQS emulator': ports.sqs, 'the SNS emulator': ports.sns, 'DynamoDB Local': options.sharedDynamoDb ? undefined : ports.dynamodb, 'the Lambda API': ports.lambda };
    for (const [service, port] of Object.entries(wanted)) if (port) await freePort(port, service);
    // With IAM the emulators sit on free ports behind gateways that hold the ports everyone is given.
    const launched = await Promise.allSettled([
      startSqsEmulator({ port: iam ? 0 : ports.sqs }),
      options.sharedDynamoDb ? Promise.resolve(undefined) : startDynamoDbLocal({ port: iam ? 0 : ports.dynamodb }),
    ]);
    // Whichever started is stopped with the rest if the other did not.
    emulators.push(...launched.flatMap((result) => (result.status === 'fulfilled' && result.value ? [result.value] : [])));
    const failed = launched.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const sqsEmulator = emulators[0]!;
    const dynamodb = { endpoint: options.sharedDynamoDb?.endpoint ?? emulators[1]!.endpoint };
    const authorizer = new Authorizer([], new Map(), options.onDenied);
    // Every caller signs: the developer with the state folder's key, each function with a key of its own for this start.
    const developer = developerCredentials(stateDir);
    const verifier = new SignatureVerifier();
    verifier.allow(developer);
    const credentialsByFunction = new Map<string, Credentials>();
    const credentialsOf = (name: string) => {
      let pair = credentialsByFunction.get(name);
      if (!pair) {
        pair = iam ? functionCredentials(functionAccessKey(name)) : developer;
        credentialsByFunction.set(name, pair);
        verifier.allow(pair);
      }
      return pair;
    };
    let [sqsEndpoint, snsEndpoint, dynamodbEndpoint] = [sqsEmulator.endpoint, sqsEmulator.endpoint, dynamodb.endpoint];
    if (iam) {
      gateways.push(
        new IamGateway('sqs', sqsEmulator.endpoint, authorizer, { meter: options.meter, verifier }),
        new IamGateway('sns', sqsEmulator.endpoint, authorizer, { meter: options.meter, verifier }),
        new IamGateway('dynamodb', dynamodb.endpoint, authorizer, { meter: options.meter, verifier, partitionKeyOf: (table) => tables.find((candidate) => candidate.name === table)?.partitionKey }),
      );
      [sqsEndpoint, snsEndpoint, dynamodbEndpoint] = await Promise.all([gateways[0]!.listen(ports.sqs), gateways[1]!.listen(ports.sns), gateways[2]!.listen(ports.dynamodb)]);
    }
    invokeApi = new InvokeApi(functions, eventSources, iam ? { authorizer, verifier } : undefined);
    const lambdaEndpoint = await invokeApi.listen(ports.lambda);
    const endpoints = { region: LOCAL_REGION, sqs: sqsEndpoint, sns: snsEndpoint, dynamodb: dynamodbEndpoint, lambda: lambdaEndpoint };
    const clientConfig = { region: LOCAL_REGION, credentials: developer };
    // Queues are created through the public endpoint, the host their URLs carry; Lambda's pollers go straight to the
    // emulator, as the Lambda service is not a function and its calls are not the role's.
    const sqs = new SQSClient({ ...clientConfig, endpoint: endpoints.sqs });
    // A receive that hangs would hold up every poller waiting its turn behind it; none should outlast its long poll by 5 s.
    const pollerSqs = new SQSClient({ ...clientConfig, endpoint: sqsEmulator.endpoint, requestHandler: { requestTimeout: (LONG_POLL_SECONDS + 5) * 1000 } });
    const ddb = new DynamoDBClient({ ...clientConfig, endpoint: endpoints.dynamodb });
    const sns = new SNSClient({ ...clientConfig, endpoint: endpoints.sns });
    const builtByStack = new Map<string, Map<string, ResourceAttributes>>();
    const functionsByStack = new Map<string, ReadonlyMap<string, LocalFunction>>();
    /** Reads the roles and policies of the stacks for the authorizer; answers what of them cannot be enforced. */
    const readPolicies = (from: readonly SynthesizedStack[]): string[] => {
      const identities: FunctionIdentity[] = [];
      const byResource = new Map<string, PolicyDocument>();
      const warnings: string[] = [];
      for (const stack of from) {
        const built = builtByStack.get(stack.name);
        if (!built) continue;
        registerIdentities(stack, built);
        const resolver = new IntrinsicResolver(stack.name, built);
        identities.push(...functionIdentities(stack, resolver, functionsByStack.get(stack.name) ?? new Map(), (warning) => warnings.push(warning)));
        for (const [arn, document] of resourcePolicies(stack, resolver)) byResource.set(arn, document);
      }
      authorizer.replace(identities, byResource);
      return [...warnings, ...authorizer.notEnforced];
    };

    const outputs: Record<string, Record<string, string>> = {};
    const queues: ProvisionedQueue[] = [];
    const topics: ProvisionedTopic[] = [];
    const skipped: string[] = [];
    for (const stack of stacks) {
      const built = new Map<string, ResourceAttributes>();
      builtByStack.set(stack.name, built);
      queues.push(...(await provisionQueues(sqs, endpoints.sqs, stack, built)));
      const provisioned = await provisionTopics(sns, stack, built);
      topics.push(...provisioned.topics);
      skipped.push(...provisioned.refused);
      tables.push(...(await provisionTables(ddb, stack, built, options.sharedDynamoDb?.tablePrefix)));
      registerIdentities(stack, built);
      const resolver = new IntrinsicResolver(stack.name, built);
      const stackFunctions = buildFunctions(stack, resolver, built, endpoints, {
        showLogs: options.showFunctionLogs ?? false,
        meter: options.meter,
        credentialsOf,
        ...(options.collectSpans ? { onSpans: keepSpans } : {}),
      });
      functionsByStack.set(stack.name, stackFunctions.functions);
      for (const [name, fn] of stackFunctions.functions) functions.set(name, fn);
      eventSources.push(...mappings(stack.name, stack.resources, resolver, pollerSqs, stackFunctions.functions, stackFunctions.skipped, queues, options.meter));
      skipped.push(...describeSkipped(stack.name, stack.resources, stackFunctions.skipped, iam));
      outputs[stack.name] = Object.fromEntries(
        Object.entries(stack.outputs).map(([key, output]) => [key, resolver.resolveString(output.Value, `output ${key}`)]),
      );
    }
    const iamExceptions = iam ? readPolicies(stacks) : [];
    for (const source of iam ? eventSources : []) {
      const denial = authorizer.mappingDenial(source.functionName, source.describe().EventSourceArn);
      if (denial) throw new Error(`the event source mapping of ${source.functionName} cannot be created, as in AWS: ${denial}`);
    }
    for (const source of eventSources) source.start();

    writeFileSync(join(stateDir, 'outputs.json'), `${JSON.stringify(outputs, null, 2)}\n`);
    // The pid lets a client tell this running cloud from the files a killed one left behind.
    // The emulators' own endpoints, behind the IAM gateways, are there for whoever must tell they are gone.
    const behind = { sqs: sqsEmulator.endpoint, dynamodb: dynamodb.endpoint };
    // The developer's credentials go with the endpoints, for msg and the SDK to sign with (the file is the owner's alone).
    writeFileSync(join(stateDir, 'endpoints.json'), `${JSON.stringify({ ...endpoints, pid: process.pid, emulators: behind, credentials: developer }, null, 2)}\n`, { mode: 0o600 });
    const reload = async (): Promise<ReloadResult> => {
      if (options.cdkOut || !(await synthesizeUnlessUnchanged(appDir, outDir, { resynthesize: false, clearFirst: false }))) return { resynthesized: false, updated: [], restartNeeded: [] };
      const next = readCloudAssembly(outDir);
      const result = swapChangedCode(stacks, next, functions);
      stacks = next;
      if (iam) readPolicies(stacks);
      return { resynthesized: true, ...result };
    };
    const pendingEvents = () => invokeApi?.pendingEvents ?? 0;
    return {
      endpoints,
      emulators: behind,
      outputs,
      queues,
      topics,
      tables,
      functions,
      mappings: eventSources,
      skipped,
      startupMs: Date.now() - started,
      iam: { enforced: iam, exceptions: iamExceptions },
      denials: () => authorizer.denials,
      spans: () => spans,
      credentials: developer,
      reload,
      pendingEvents,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function mappings(
  stackName: string,
  resources: ReturnType<typeof readCloudAssembly>[number]['resources'],
  resolver: IntrinsicResolver,
  sqs: SQSClient,
  functions: ReadonlyMap<string, LocalFunction>,
  skippedFunctions: readonly SkippedFunction[],
  queues: readonly ProvisionedQueue[],
  meter: UsageMeter | undefined,
): SqsEventSource[] {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::EventSourceMapping')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties ?? {};
      const sourceArn = resolver.resolveString(properties.EventSourceArn, `${logicalId}.EventSourceArn`);
      const queue = queues.find((candidate) => candidate.arn === sourceArn);
      if (!queue) throw new UnresolvableError(`${stackName}: ${logicalId} reads from ${sourceArn}; the local cloud runs SQS event sources only`);
      const functionName = resolver.resolveString(properties.FunctionName, `${logicalId}.FunctionName`).split(':').pop()!;
      const fn = functions.get(functionName);
      if (!fn) {
        const why = skippedFunctions.find((skipped) => functionName.endsWith(skipped.logicalId))?.reason ?? 'it was not built';
        throw new UnresolvableError(`${stackName}: ${logicalId} needs function ${functionName}, which cannot run locally: ${why}`);
      }
      const scaling = properties.ScalingConfig as { MaximumConcurrency?: number } | undefined;
      const provisioned = properties.ProvisionedPollerConfig as { MinimumPollers?: number; MaximumPollers?: number } | undefined;
      return new SqsEventSource(sqs, fn, {
        queueUrl: queue.url,
        queueArn: queue.arn,
        batchSize: Number(properties.BatchSize ?? 10),
        maxBatchingWindowSeconds: Number(properties.MaximumBatchingWindowInSeconds ?? 0),
        ...(scaling?.MaximumConcurrency ? { maxConcurrency: Number(scaling.MaximumConcurrency) } : {}),
        // Lambda's defaults for an SQS mapping in provisioned mode that leaves a bound out: 2 and 200 pollers.
        ...(provisioned ? { provisionedPollers: { minimum: Number(provisioned.MinimumPollers ?? 2), maximum: Number(provisioned.MaximumPollers ?? 200) } } : {}),
        reportBatchItemFailures: ((properties.FunctionResponseTypes as string[] | undefined) ?? []).includes('ReportBatchItemFailures'),
        ...(meter ? { meter } : {}),
      });
    });
}

/** What the IAM gateways read when IAM is enforced. */
const IAM_RESOURCE_TYPES = ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy'];

function describeSkipped(
  stackName: string,
  resources: ReturnType<typeof readCloudAssembly>[number]['resources'],
  functions: readonly SkippedFunction[],
  iam: boolean,
): string[] {
  const byType = new Map<string, number>();
  const built = ['AWS::SQS::Queue', 'AWS::SNS::Topic', 'AWS::SNS::Subscription', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable', 'AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping'];
  const handled = new Set([...built, ...(iam ? IAM_RESOURCE_TYPES : [])]);
  for (const resource of Object.values(resources)) {
    if (!handled.has(resource.Type)) byType.set(resource.Type, (byType.get(resource.Type) ?? 0) + 1);
  }
  return [
    ...[...byType].map(([type, count]) => `${stackName}: ${count} × ${type} (${NOT_EMULATED.has(type) ? 'not emulated locally' : 'unknown to the local cloud'})`),
    ...functions.map((fn) => `${stackName}: function ${fn.logicalId} (${fn.reason})`),
  ];
}

/**
 * Puts each function whose bundle changed between two syntheses on its new code, and lists the resources whose
 * other changes only a restart applies (properties of queues and tables, a function's settings).
 */
function swapChangedCode(
  before: readonly SynthesizedStack[],
  after: readonly SynthesizedStack[],
  functions: ReadonlyMap<string, LocalFunction>,
): Omit<ReloadResult, 'resynthesized'> {
  const updated: string[] = [];
  const restartNeeded: string[] = [];
  const settings = (resource: TemplateResource | undefined) => JSON.stringify({ ...resource?.Properties, Code: undefined });
  for (const stack of after) {
    const previous = before.find((candidate) => candidate.name === stack.name)?.resources ?? {};
    for (const [logicalId, resource] of Object.entries(stack.resources)) {
      if (resource.Type === 'AWS::Lambda::Function') {
        const fn = functions.get(functionName(stack, logicalId, resource));
        const module = entryModule(stack, resource);
        if (!fn || typeof module === 'string') continue;
        if (module.path !== fn.modulePath) {
          fn.replaceCode(module.path);
          updated.push(fn.props.name);
        }
        if (settings(resource) !== settings(previous[logicalId])) restartNeeded.push(logicalId);
      } else if (!NOT_EMULATED.has(resource.Type) && JSON.stringify(resource.Properties) !== JSON.stringify(previous[logicalId]?.Properties)) {
        restartNeeded.push(logicalId);
      }
    }
  }
  return { updated, restartNeeded };
}
