import { Aspects, CfnResource, CloudFormationValidatePlugin, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction, InlineCode, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { FEATURE_FLAGS, RECOMMENDED_FLAGS, templateApp } from './helpers.ts';
import { BatchResponseGuard } from '../../lib/constructs/batch-response-guard.ts';
import { DeliveryPoliciesStack } from '../../lib/stacks/delivery-policies-stack.ts';
import { OutputKey, SenderEnv } from '../../lib/policy/index.ts';

describe('DeliveryPoliciesStack', () => {
  const app = templateApp();
  const stack = new DeliveryPoliciesStack(app, 'DeliveryPolicies', { alarmTopic: 'create' });
  const template = Template.fromStack(stack);

  it('outputs every endpoint the SDK discovers, under the wire contract keys', () => {
    const outputs = Object.keys(template.findOutputs('*')).sort();
    expect(outputs).toStrictEqual(
      [
        OutputKey.stateTableName,
        OutputKey.lifecycleTableName,
        OutputKey.replyQueuePrefix,
        OutputKey.queueUrl('orders'),
        OutputKey.deadLetterQueueUrl('orders'),
        OutputKey.consumerFunctionName('orders'),
        OutputKey.queueUrl('presence'),
        OutputKey.consumerFunctionName('presence'),
        OutputKey.primaryFunctionName('quotes'),
        OutputKey.fallbackFunctionName('quotes'),
        OutputKey.queueUrl('billing'),
        OutputKey.deadLetterQueueUrl('billing'),
        OutputKey.consumerFunctionName('billing'),
        OutputKey.queueUrl('shipping'),
        OutputKey.deadLetterQueueUrl('shipping'),
        OutputKey.consumerFunctionName('shipping'),
        OutputKey.queueUrl('salesAlerts'),
        OutputKey.consumerFunctionName('salesAlerts'),
        OutputKey.queueUrl('ledger'),
        OutputKey.deadLetterQueueUrl('ledger'),
        OutputKey.consumerFunctionName('ledger'),
        OutputKey.topicArn('orderPlaced'),
        OutputKey.undeliveredQueueUrl('orderPlaced'),
      ].sort(),
    );
  });

  it("lets billing send on to the ledger and nowhere else, with the ledger's queue in its environment", () => {
    const logicalIdOf = (prefix: string, type: string) => Object.keys(template.findResources(type)).find((id) => id.startsWith(prefix))!;
    const consumer = template.findResources('AWS::Lambda::Function')[logicalIdOf('ChannelsbillingConsumer', 'AWS::Lambda::Function')]!;
    expect(consumer.Properties.Environment.Variables[SenderEnv.output(OutputKey.queueUrl('ledger'))]).toStrictEqual({ Ref: logicalIdOf('ChannelsledgerQueue', 'AWS::SQS::Queue') });
    const sends = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes('ChannelsbillingConsumer'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((statement) => [statement.Action].flat().includes('sqs:SendMessage'));
    // Its own DLQ (for dead-lettering), the ledger's queue, and (billing keeps replies) the stack's reply queues.
    // (cdk.json's @aws-cdk/aws-iam:minimizePolicies merges statements of the same actions into one)
    const resources = sends.flatMap((statement) => [statement.Resource].flat()).map((resource) => JSON.stringify(resource));
    expect(resources.filter((resource) => !resource.includes('_reply_*')).sort()).toStrictEqual(
      [logicalIdOf('ChannelsbillingDeadLetterQueue', 'AWS::SQS::Queue'), logicalIdOf('ChannelsledgerQueue', 'AWS::SQS::Queue')].map((id) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })).sort(),
    );
    expect(resources.filter((resource) => resource.includes(':DeliveryPolicies_reply_*'))).toHaveLength(1);
  });

  it('delivers orderPlaced to its subscribers raw, filtered, kept when undeliverable, and only from the topic', () => {
    const logicalIdOf = (prefix: string, type: string) => Object.keys(template.findResources(type)).find((id) => id.startsWith(prefix))!;
    const topic = logicalIdOf('ChannelsorderPlacedTopic', 'AWS::SNS::Topic');
    const undelivered = logicalIdOf('ChannelsorderPlacedTopicUndelivered', 'AWS::SQS::Queue');
    // Encrypted, and refusing publishes over plain HTTP.
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    // Each subscriber: raw delivery (its consumer reads an event as a sent message), the subscription's DLQ, its filter.
    const subscriptions = Object.values(template.findResources('AWS::SNS::Subscription')).map((resource) => resource.Properties);
    expect(subscriptions).toHaveLength(3);
    for (const subscription of subscriptions) {
      expect(subscription).toMatchObject({ Protocol: 'sqs', RawMessageDelivery: true, TopicArn: { Ref: topic }, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [undelivered, 'Arn'] } } });
    }
    const sales = subscriptions.find((subscription) => JSON.stringify(subscription.Endpoint).includes('salesAlerts'));
    expect(sales).toMatchObject({ FilterPolicyScope: 'MessageBody', FilterPolicy: { totalCents: [{ numeric: ['>=', 100_000] }] } });
    expect(subscriptions.find((subscription) => JSON.stringify(subscription.Endpoint).includes('billing'))!.FilterPolicy).toBeUndefined();
    // The subscribers' queues and the DLQ take SNS's sends from this topic alone.
    for (const queue of [...['billing', 'shipping', 'salesAlerts'].map((channel) => logicalIdOf(`Channels${channel}Queue`, 'AWS::SQS::Queue')), undelivered]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            { Action: 'sqs:SendMessage', Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Resource: { 'Fn::GetAtt': [queue, 'Arn'] }, Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topic } } } },
          ]),
        },
      });
    }
    // A delivery SNS gave up on raises an alarm.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [undelivered, 'QueueName'] } }],
      Threshold: 0,
    });
  });

  it('keeps state in an on-demand table with PITR, SSE and TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('alarms on DLQ depth above 0 for the guaranteed channels and the topic only', () => {
    const deadLetterAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (alarm) => alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible',
    );
    expect(deadLetterAlarms.map((alarm) => String(alarm.Properties.AlarmDescription).split(':')[0]).sort()).toStrictEqual(['billing', 'ledger', 'orderPlaced', 'orders', 'shipping']);
    expect(deadLetterAlarms[0]!.Properties).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [expect.anything()] });
  });

  it('derives the oldest-message age thresholds from the policies', () => {
    // orders: visibility 60 s (6 × 10 s) + backoffs 2 + 4 + 8 + 16 before its 5th and last attempt = 90 s.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 90 });
    // presence: its 30 s time to live, raised to CloudWatch's one-minute floor.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 60 });
  });

  it('alarms when the quotes primary fails, and when callers are answered by the fallback after a failover, not on hedges', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 0 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'failoverAnswers',
      Namespace: 'DeliveryPolicies',
      Dimensions: Match.arrayWith([{ Name: 'channel', Value: 'quotes' }]),
      Statistic: 'Sum',
      Threshold: 0,
    });
    expect(Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((alarm) => alarm.Properties.MetricName === 'Invocations')).toStrictEqual([]);
  });

  it("alarms on a stuck retry by the runtime's own age gauge, which SQS's age leaves out past three receives", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'oldestMessageAgeSeconds',
      Namespace: 'DeliveryPolicies',
      Dimensions: Match.arrayWith([{ Name: 'channel', Value: 'orders' }]),
      Statistic: 'Maximum',
      Threshold: 90,
    });
  });

  it('lets CloudWatch, for this account\'s alarms only, publish to the alarm topic and use its key, as AWS documents', () => {
    const fromAlarms = { StringEquals: { 'aws:SourceAccount': Match.anyValue() }, ArnLike: { 'aws:SourceArn': Match.anyValue() } };
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: fromAlarms })]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Condition: fromAlarms })]) },
    });
  });

  it('notifies by default: an encrypted topic is created when none is given, and an e-mail address can subscribe', () => {
    const defaults = Template.fromStack(new DeliveryPoliciesStack(templateApp(), 'Defaults', { alarmEmail: 'ops@example.com' }));
    const alarmTopics = (found: Template) => Object.keys(found.findResources('AWS::SNS::Topic')).filter((id) => id.includes('AlarmTopic'));
    expect(alarmTopics(defaults)).toHaveLength(1);
    defaults.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    const [topic] = alarmTopics(defaults);
    const alarms = Object.values(defaults.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toStrictEqual([{ Ref: topic }]);
    const silent = Template.fromStack(new DeliveryPoliciesStack(templateApp(), 'Silent', { alarmTopic: 'none' }));
    expect(alarmTopics(silent)).toStrictEqual([]);
    expect(() => new DeliveryPoliciesStack(templateApp(), 'Contradiction', { alarmTopic: 'none', alarmEmail: 'ops@example.com' })).toThrow(/alarmEmail ops@example.com needs an alarm topic/);
  });

  it('creates an encrypted alarm topic and one dashboard', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('passes with every acknowledgement carrying a reason', () => {
    // GIVEN the example application with the AwsSolutions pack
    const app = templateApp();
    new DeliveryPoliciesStack(app, 'DeliveryPolicies', { alarmTopic: 'create' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // WHEN it synthesizes THEN no unacknowledged finding fails it
    expect(() => app.synth()).not.toThrow();
  });

  it('fails a stack with an unacknowledged finding (the check can fail)', () => {
    const app = templateApp();
    const stack = new Stack(app, 'Bare');
    new Queue(stack, 'Plain');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});

describe("CDK's built-in CloudFormation validation", () => {
  // Registered explicitly, so that it runs though the test run turns the default one off (CDK_VALIDATION); its
  // findings are warnings unless the flag is set, and here they fail the synth. One plugin for both apps: it keeps
  // its rule engine (2.6 s of CPU to load) for templates of resource types it has seen, the example's first.
  const plugin = new CloudFormationValidatePlugin();
  const strict = () => {
    const app = templateApp({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
    Validations.of(app).addPlugins(plugin);
    return app;
  };

  it('finds no error in the example application', () => {
    const app = strict();
    new DeliveryPoliciesStack(app, 'DeliveryPolicies', { alarmTopic: 'create' });
    expect(() => app.synth()).not.toThrow();
  });

  it('fails a template CloudFormation would refuse (the check can fail)', () => {
    const app = strict();
    new CfnResource(new Stack(app, 'Bare'), 'Invalid', { type: 'AWS::SQS::Queue', properties: { VisibilityTimeout: 'soon' } });
    expect(() => app.synth()).toThrow(/VisibilityTimeout/);
  });
});

describe("AWS Control Tower's proactive controls (cfn-guard)", () => {
  it('passes them, every exception acknowledged in the template with its reason', () => {
    // GIVEN the example application with the Control Tower rules, run by cfn-guard as a policy validation plugin
    const app = templateApp();
    new DeliveryPoliciesStack(app, 'DeliveryPolicies');
    Validations.of(app).addPlugins(new CfnGuardValidator());
    // WHEN it synthesizes THEN no unacknowledged rule fails it
    expect(() => app.synth()).not.toThrow();
  });

  it('fails a stack that breaks one (the check can fail)', () => {
    const app = templateApp();
    new Queue(new Stack(app, 'Bare'), 'Plain');
    // The one rule it breaks, not all 237: the run above is the one that needs them (seconds of cfn-guard's CPU).
    const rule = createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/rules/control-tower/cfn-guard/sqs/ct-sqs-pr-1.guard');
    Validations.of(app).addPlugins(new CfnGuardValidator({ controlTowerRulesEnabled: false, rules: [rule] }));
    expect(() => app.synth()).toThrow(/CT\.SQS\.PR\.1/);
  });
});

describe('BatchResponseGuard', () => {
  function stackWithMapping(reportBatchItemFailures: boolean) {
    const app = templateApp();
    const stack = new Stack(app, 'Guarded');
    const queue = new Queue(stack, 'Queue', { visibilityTimeout: Duration.seconds(60) });
    const fn = new LambdaFunction(stack, 'Fn', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: new InlineCode('export const handler = async () => ({})') });
    fn.addEventSource(new SqsEventSource(queue, { reportBatchItemFailures }));
    Aspects.of(stack).add(new BatchResponseGuard());
    return stack;
  }

  // An error annotation fails `cdk synth` and `cdk deploy` (cdk.json's @aws-cdk/core:annotationsInValidationReport
  // puts it in the synth's validation report), so the synth itself refuses the mapping, naming the rule.
  it('fails the synth of an SQS mapping without ReportBatchItemFailures, with an error', () => {
    expect(() => Template.fromStack(stackWithMapping(false))).toThrow(/functionResponseTypes must include ReportBatchItemFailures/);
  });

  it('lets a mapping with the flag through', () => {
    Annotations.fromStack(stackWithMapping(true)).hasNoError('*', Match.anyValue());
  });
});

describe("cdk.json: the feature flags cdk init writes (no 'feature flags are not configured' on every synth)", () => {
  /** The recommended values this app and the template do not take, and why (docs/DECISIONS.md). */
  const OVERRIDES: Record<string, unknown> = {
    // The stacks name no partition but AWS's own, as before the flags were written out.
    '@aws-cdk/core:target-partitions': ['aws'],
    // A consumer's log group is its own (retention, removal) on AWS; LocalStack's stacks create none (localstack.test.ts).
    '@aws-cdk/aws-lambda:useCdkManagedLogGroup': false,
  };

  it("sets every recommended flag, to its recommended value but for the overrides, in cdk.json and in msg init's template", () => {
    for (const file of ['cdk.json', 'template/cdk.json']) {
      const { context } = JSON.parse(readFileSync(file, 'utf8')) as { context: Record<string, unknown> };
      const expected = Object.fromEntries(Object.entries(RECOMMENDED_FLAGS).map(([flag, value]) => [flag, flag in OVERRIDES ? OVERRIDES[flag] : value]));
      expect(Object.fromEntries(Object.keys(RECOMMENDED_FLAGS).map((flag) => [flag, context[flag]])), file).toStrictEqual(expected);
    }
    expect(Object.keys(FEATURE_FLAGS).length).toBe(Object.keys(RECOMMENDED_FLAGS).length);
  });

  // The flags that change this app's template: checked by synthesizing it with each of them on and off.
  const synthesized = (flags: Record<string, boolean>) =>
    JSON.stringify(Template.fromStack(new DeliveryPoliciesStack(templateApp({ context: flags }), 'DeliveryPolicies', { env: { account: '111111111111', region: 'eu-west-1' } })).toJSON());

  it('@aws-cdk/aws-iam:minimizePolicies merges statements: fewer of them, the same actions on the same resources', () => {
    const statements = (json: string) => Object.values(JSON.parse(json).Resources as Record<string, { Type: string; Properties: { PolicyDocument?: { Statement: unknown[] } } }>)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy')
      .flatMap((policy) => policy.Properties.PolicyDocument!.Statement as { Action: string | string[]; Resource: unknown }[]);
    const pairs = (json: string) => new Set(statements(json).flatMap((statement) => [statement.Action].flat().flatMap((action) => [statement.Resource].flat().map((resource) => `${action} ${JSON.stringify(resource)}`))));
    const [minimized, not] = [synthesized({ '@aws-cdk/aws-iam:minimizePolicies': true }), synthesized({ '@aws-cdk/aws-iam:minimizePolicies': false })];
    expect(statements(minimized).length).toBeLessThan(statements(not).length);
    expect(pairs(minimized)).toStrictEqual(pairs(not));
  });

  it("@aws-cdk/core:enablePartitionLiterals writes the stack's partition, aws, where it wrote a reference to it", () => {
    const [literal, referenced] = [synthesized({ '@aws-cdk/core:enablePartitionLiterals': true }), synthesized({ '@aws-cdk/core:enablePartitionLiterals': false })];
    const count = (json: string, text: string) => json.split(text).length - 1;
    // (AWS-managed policies' ARNs keep the reference either way)
    expect(count(literal, '{"Ref":"AWS::Partition"}')).toBeLessThan(count(referenced, '{"Ref":"AWS::Partition"}'));
    expect(count(literal, '"arn:aws:')).toBeGreaterThan(count(referenced, '"arn:aws:'));
  });
});
