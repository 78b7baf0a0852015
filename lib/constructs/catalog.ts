import { ArnFormat, Aspects, CfnOutput, Stack, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { catalogProblem, FunctionEnv, OutputKey, ReplyQueue, SenderEnv, topicCatalogProblem, type Catalog, type ChannelDefinition, type TopicCatalog } from '../policy/index.ts';
import { BatchResponseGuard } from './batch-response-guard.ts';
import { Channel, type StateAccess } from './channel.ts';
import { EventTopic } from './event-topic.ts';
import { LifecycleTable } from './lifecycle-table.ts';
import { Operations } from './channel-alarms.ts';
import { Responder } from './responder.ts';
import { StateTable } from './state-table.ts';

/** The channels a consumer sends on to and the topics it publishes to. */
export interface OnwardAccess {
  readonly send?: readonly string[];
  readonly publish?: readonly string[];
}

/** Where a channel's handler code is: one module for a queue-backed channel, a primary and a fallback for a responder. */
export type HandlerEntry = string | { readonly primary: string; readonly fallback?: string };

export interface ChannelCatalogProps {
  /** Every channel of the application, as its channels module exports them (`{ orders, presence, quotes }`). */
  readonly channels: Catalog;
  /** The application's topics, as its channels module exports them (`{ orderPlaced }`). @default - none */
  readonly topics?: TopicCatalog;
  /**
   * The folder of handlers, one folder per channel: `<name>/index.ts` (exporting `handler`) for a guaranteed or
   * fire-and-forget channel, `<name>/primary.ts` and `<name>/fallback.ts` for a request-response one. Relative
   * paths start at the working directory, as NodejsFunction's do (`cdk` runs in the app's root).
   * @default 'functions'
   */
  readonly handlersDir?: string;
  /** Handler modules elsewhere than the convention, per channel name. */
  readonly entries?: Readonly<Record<string, HandlerEntry>>;
  /** The application's data, which handlers write. @default - a new StateTable with `stateRemovalPolicy` */
  readonly stateTable?: StateTable;
  /**
   * What each channel's consumer may do on the state table, by key prefix (`{ orders: { write: ['order#'] } }`):
   * its role reaches those items and nothing else of the table. @default - no consumer reaches the state table
   */
  readonly stateAccess?: Readonly<Record<string, StateAccess>>;
  /**
   * What each consumer sends on, by channel name: the channels its handler sends to and the topics it publishes to (the
   * `sendsTo` and `publishesTo` of its consumer). Its role may send there and nothing more, and the endpoints go in its
   * environment. @default - no consumer sends anything on
   */
  readonly onward?: Readonly<Record<string, OnwardAccess>>;
  /** The state table's and the lifecycle table's. @default RemovalPolicy.RETAIN */
  readonly stateRemovalPolicy?: RemovalPolicy;
  /**
   * Where alarms notify: an existing topic, 'create' for a new KMS-encrypted one, or 'none' for alarms that notify
   * nobody (they still show on the dashboard). @default 'create'
   */
  readonly alarmTopic?: ITopic | 'create' | 'none';
  /** An e-mail address subscribed to the alarm topic (AWS asks it to confirm). @default - no subscription */
  readonly alarmEmail?: string;
  /** @default - the stack's name */
  readonly dashboardName?: string;
}

/**
 * Every channel of an application from one catalog: per channel its queue (and DLQ), consumer or responders,
 * alarms and dashboard widgets, and the stack outputs the SDK and CLI discover it by; one state table for all,
 * and the guard that fails synthesis on an SQS mapping without partial batch responses. Adding a channel is its
 * declaration in the catalog plus its handler file.
 */
export class ChannelCatalog extends Construct {
  public readonly stateTable: StateTable;
  /** The guaranteed channels' lifecycle records, apart from the application's data. */
  public readonly lifecycleTable: LifecycleTable;
  /** The guaranteed and fire-and-forget channels, by name. */
  public readonly channels: Readonly<Record<string, Channel>>;
  /** The request-response channels, by name. */
  public readonly responders: Readonly<Record<string, Responder>>;
  /** The topics, by name, each delivering to the channels that subscribe to it. */
  public readonly topics: Readonly<Record<string, EventTopic>>;
  public readonly operations: Operations;
  /**
   * The name prefix of the callers' reply queues (pushed replies: see ReplyQueue): a consumer of a channel that keeps
   * replies may send to these queues and no other, and grantReadReplies lets a caller keep one of them.
   */
  public readonly replyQueuePrefix: string;

  public constructor(scope: Construct, id: string, props: ChannelCatalogProps) {
    super(scope, id);
    this.stateTable = props.stateTable ?? new StateTable(this, 'State', { removalPolicy: props.stateRemovalPolicy });
    this.lifecycleTable = new LifecycleTable(this, 'Lifecycle', { removalPolicy: props.stateRemovalPolicy });
    this.replyQueuePrefix = ReplyQueue.prefix(Stack.of(this).stackName);
    const handlersDir = resolve(props.handlersDir ?? 'functions');
    const channels: Record<string, Channel> = {};
    const responders: Record<string, Responder> = {};
    const problem = catalogProblem(props.channels);
    if (problem) throw new Error(`channel catalog: ${problem}`);
    const topicProblem = topicCatalogProblem(props.topics ?? {}, props.channels);
    if (topicProblem) throw new Error(`channel catalog: ${topicProblem}`);
    for (const name of Object.keys(props.stateAccess ?? {})) {
      const kind = Object.hasOwn(props.channels, name) ? props.channels[name]!.policy.kind : undefined;
      if (kind === undefined || kind === 'request-response') throw new Error(`channel catalog: stateAccess.${name} names no guaranteed or fire-and-forget channel of this catalog`);
    }
    for (const definition of Object.values(props.channels)) {
      const entry = props.entries?.[definition.name];
      if (definition.policy.kind === 'request-response') {
        const { primary, fallback } = typeof entry === 'object' ? entry : conventionalResponderEntries(handlersDir, definition);
        responders[definition.name] = new Responder(this, definition.name, {
          definition,
          stateTable: this.stateTable,
          primaryEntry: existingHandler(definition, 'primary responder', primary),
          fallbackEntry: definition.policy.fallback ? existingHandler(definition, 'fallback responder', fallback) : undefined,
        });
      } else {
        if (typeof entry === 'object') throw new Error(`${definition.name}: a ${definition.policy.kind} channel has one handler; give entries.${definition.name} as a path`);
        channels[definition.name] = new Channel(this, definition.name, {
          definition,
          stateTable: this.stateTable,
          lifecycleTable: this.lifecycleTable,
          stateAccess: props.stateAccess?.[definition.name],
          entry: existingHandler(definition, 'consumer', entry ?? join(handlersDir, definition.name, 'index.ts')),
        });
      }
    }
    this.channels = channels;
    this.responders = responders;
    for (const channel of Object.values(channels)) {
      if (channel.policy.kind !== 'guaranteed' || !channel.policy.reply) continue;
      channel.consumer.addEnvironment(FunctionEnv.replyQueuePrefix, this.replyQueuePrefix);
      channel.consumer.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.#replyQueuesArn()] }));
      this.#acknowledgeReplyQueues(channel.consumer, 'its consumer sends a notice to the reply queue a message names, which callers create');
    }
    const topics: Record<string, EventTopic> = {};
    for (const definition of Object.values(props.topics ?? {})) topics[definition.name] = new EventTopic(this, `${definition.name}Topic`, { definition });
    for (const definition of Object.values(props.channels)) {
      if (definition.subscription) topics[definition.subscription.topic]!.subscribe(channels[definition.name]!, definition.subscription.filter);
    }
    this.topics = topics;
    for (const [name, { send = [], publish = [] }] of Object.entries(props.onward ?? {})) {
      const consumer = Object.hasOwn(channels, name) ? channels[name]!.consumer : undefined;
      if (!consumer) throw new Error(`channel catalog: onward.${name} names no guaranteed or fire-and-forget channel of this catalog`);
      this.grantSend(consumer, ...send);
      this.grantPublish(consumer, ...publish);
    }

    this.operations = new Operations(this, 'Operations', {
      channels: Object.values(channels),
      responders: Object.values(responders),
      topics: Object.values(topics),
      // An alarm that notifies nobody is seldom seen; notifying is the default.
      alarmTopic: props.alarmTopic === 'none' ? undefined : (props.alarmTopic ?? 'create'),
      dashboardName: props.dashboardName ?? Stack.of(this).stackName,
    });
    if (props.alarmEmail) {
      if (!this.operations.alarmTopic) throw new Error(`channel catalog: alarmEmail ${props.alarmEmail} needs an alarm topic, but alarmTopic is 'none'`);
      this.operations.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    }
    Aspects.of(Stack.of(this)).add(new BatchResponseGuard());
    this.#outputEndpoints();
  }

  /**
   * Lets `grantee` send on the named guaranteed or fire-and-forget channels. A Lambda function also gets each
   * queue's URL in its environment (`MSG_OUTPUT_<output key>`), where the SDK finds it with no DescribeStacks.
   */
  public grantSend(grantee: IGrantable, ...channelNames: string[]): void {
    for (const name of channelNames) {
      const channel = this.channels[name];
      if (!channel) throw new Error(`grantSend: ${name} is not a guaranteed or fire-and-forget channel of this catalog (${Object.keys(this.channels).join(', ')})`);
      channel.grantSend(grantee);
      expose(grantee, OutputKey.queueUrl(name), channel.queue.queueUrl);
    }
  }

  /** Lets `grantee` publish to the named topics. A Lambda function also gets each topic's ARN in its environment. */
  public grantPublish(grantee: IGrantable, ...topicNames: string[]): void {
    for (const name of topicNames) {
      const topic = this.topics[name];
      if (!topic) throw new Error(`grantPublish: ${name} is not a topic of this catalog (${Object.keys(this.topics).join(', ') || 'it has none'})`);
      topic.grantPublish(grantee);
      expose(grantee, OutputKey.topicArn(name), topic.topic.topicArn);
    }
  }

  /** Lets `grantee` ask the named request-response channels (their primary and fallback), and tells a function their names. */
  public grantRequest(grantee: IGrantable, ...channelNames: string[]): void {
    for (const name of channelNames) {
      const responder = this.responders[name];
      if (!responder) throw new Error(`grantRequest: ${name} is not a request-response channel of this catalog (${Object.keys(this.responders).join(', ')})`);
      responder.grantInvoke(grantee);
      expose(grantee, OutputKey.primaryFunctionName(name), responder.primary.functionName);
      if (responder.fallback) expose(grantee, OutputKey.fallbackFunctionName(name), responder.fallback.functionName);
    }
  }

  /**
   * Lets `grantee` read messages' lifecycle records and replies (the SDK's status and awaitReply), and keep a reply
   * queue of its own for pushed replies (create it, receive from it, delete it, and delete others' abandoned ones):
   * nothing else.
   */
  public grantReadReplies(grantee: IGrantable): void {
    this.lifecycleTable.grantReadRecords(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['sqs:CreateQueue', 'sqs:TagQueue', 'sqs:ListQueueTags', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:DeleteQueue'],
        resources: [this.#replyQueuesArn()],
      }),
    );
    // ListQueues names no queue: IAM grants it on every queue or none, and the prefix it is asked with scopes it.
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:ListQueues'], resources: ['*'] }));
    if (grantee instanceof Construct) {
      this.#acknowledgeReplyQueues(grantee, 'a caller keeps a reply queue of its own, named at run time');
      Validations.of(grantee).acknowledge({ id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', reason: 'sqs:ListQueues has no resource to scope it to; the reply queue sweep lists by prefix.' });
    }
    expose(grantee, OutputKey.lifecycleTableName, this.lifecycleTable.tableName);
    expose(grantee, OutputKey.replyQueuePrefix, this.replyQueuePrefix);
  }

  /** A grant on queues by name prefix is the point of reply queues: there is no other way to name queues made at run time. */
  #acknowledgeReplyQueues(scope: Construct, why: string): void {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:${this.replyQueuePrefix}*]`,
      reason: `The stack's reply queues, and no other queue: ${why}.`,
    });
  }

  #replyQueuesArn(): string {
    return Stack.of(this).formatArn({ service: 'sqs', resource: `${this.replyQueuePrefix}*`, arnFormat: ArnFormat.NO_RESOURCE_NAME });
  }

  /** The outputs are the wire contract: their keys are how the SDK, the CLI and the local cloud find each endpoint. */
  #outputEndpoints(): void {
    const output = (key: string, value: string) => new CfnOutput(this, key, { key, value });
    output(OutputKey.stateTableName, this.stateTable.tableName);
    output(OutputKey.lifecycleTableName, this.lifecycleTable.tableName);
    output(OutputKey.replyQueuePrefix, this.replyQueuePrefix);
    for (const channel of Object.values(this.channels)) {
      output(OutputKey.queueUrl(channel.name), channel.queue.queueUrl);
      output(OutputKey.consumerFunctionName(channel.name), channel.consumer.functionName);
      if (channel.deadLetterQueue) output(OutputKey.deadLetterQueueUrl(channel.name), channel.deadLetterQueue.queueUrl);
    }
    for (const topic of Object.values(this.topics)) {
      output(OutputKey.topicArn(topic.name), topic.topic.topicArn);
      output(OutputKey.undeliveredQueueUrl(topic.name), topic.undelivered.queueUrl);
    }
    for (const responder of Object.values(this.responders)) {
      output(OutputKey.primaryFunctionName(responder.name), responder.primary.functionName);
      if (responder.fallback) output(OutputKey.fallbackFunctionName(responder.name), responder.fallback.functionName);
    }
  }
}

function conventionalResponderEntries(handlersDir: string, definition: ChannelDefinition) {
  return { primary: join(handlersDir, definition.name, 'primary.ts'), fallback: join(handlersDir, definition.name, 'fallback.ts') };
}

/** A missing handler fails here with the channel and the path expected, not later inside the bundler. */
function existingHandler(definition: ChannelDefinition, role: string, path: string | undefined): string {
  if (!path) throw new Error(`${definition.name}: the policy has a fallback, so entries.${definition.name}.fallback must name its handler`);
  const absolute = resolve(path);
  if (!existsSync(absolute)) {
    throw new Error(`${definition.name}: no ${role} handler at ${relative(process.cwd(), absolute) || absolute}; create it (exporting "handler") or set entries.${definition.name}`);
  }
  return absolute;
}

function expose(grantee: IGrantable, outputKey: string, value: string): void {
  if (grantee instanceof LambdaFunction) grantee.addEnvironment(SenderEnv.output(outputKey), value);
}
