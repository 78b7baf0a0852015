import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { Template } from 'aws-cdk-lib/assertions';
import { channelStack } from './helpers.ts';

/** Every statement of every IAM policy of a template. */
const statementsOf = (template: Template) =>
  Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[],
  );

describe('Channel: guaranteed', () => {
  // GIVEN the defaults: timeout 30 s, no batching window
  const { template } = channelStack('payments', { kind: 'guaranteed' });

  it('creates a DLQ with 14-day retention and redrives after 5 receives', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 1_209_600,
      RedrivePolicy: Match.absent(),
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 345_600,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 20 },
    });
  });

  it("limits the queue to the channel's message size and its SDK attributes, and lets the DLQ take SQS's 1 MiB", () => {
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.anyValue(), MaximumMessageSize: 262_144 + 512 });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.absent(), MaximumMessageSize: 1_048_576 });
    const larger = channelStack('documents', { kind: 'guaranteed', maxMessageBytes: 1_000_000 }).template;
    larger.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.anyValue(), MaximumMessageSize: 1_000_512 });
  });

  it('derives the visibility timeout as 6 × the function timeout + the batching window', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.anyValue(), VisibilityTimeout: 180 });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 30 });
  });

  it('encrypts both queues with SSE-SQS and denies plain HTTP', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('maps the queue with partial batch responses on, batch size 10 and no reserved concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: Match.absent(),
      ScalingConfig: Match.absent(),
    });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.absent() });
  });

  it('runs the consumer on Node.js 22, arm64, with the channel and its policy in the environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          CHANNEL_NAME: 'payments',
          CHANNEL_POLICY: Match.serializedJson(Match.objectLike({ kind: 'guaranteed', maxAttempts: 5, maxReceiveCount: 20 })),
          QUEUE_URL: Match.anyValue(),
          DEAD_LETTER_QUEUE_URL: Match.anyValue(),
          STATE_TABLE_NAME: Match.anyValue(),
        }),
      },
    });
  });

  it('grants the consumer its own queue, its DLQ, and its own channel\'s lifecycle records, and nothing of the state table', () => {
    const statements = statementsOf(template);
    expect(statements.some((statement) => statement.Resource === '*')).toBe(false);
    expect(new Set(statements.flatMap((statement) => [statement.Action].flat()))).toStrictEqual(
      new Set(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'dynamodb:GetItem', 'dynamodb:UpdateItem']),
    );
    // Only items keyed under its own channel: no other consumer's record, and no Scan, Query or DeleteItem at all
    const lifecycle = statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('dynamodb:')));
    expect(lifecycle).toStrictEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['payments#*'] } } }),
    ]);
    expect(JSON.stringify(lifecycle)).toContain('LifecycleTable');
  });
});

describe('Channel: the state table, where the app grants it', () => {
  it('grants a consumer the items of the key prefixes it names, reads and writes apart, and nothing else of the table', () => {
    const { template } = channelStack('orders', { kind: 'guaranteed' }, { write: ['order#'], read: ['price#', 'stock#'] });
    const state = statementsOf(template).filter((statement) => JSON.stringify(statement.Resource).includes('StateTable'));
    expect(state).toStrictEqual([
      // (cdk.json's @aws-cdk/aws-iam:minimizePolicies sorts each statement's actions)
      expect.objectContaining({ Action: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:Query'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['price#*', 'stock#*'] } } }),
      expect.objectContaining({ Action: ['dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['order#*'] } } }),
    ]);
  });

  it('gives a fire-and-forget consumer no lifecycle records at all', () => {
    const { template } = channelStack('presence', { kind: 'fire-and-forget' }, { write: ['presence#'] });
    expect(JSON.stringify(statementsOf(template))).not.toContain('LifecycleTable');
  });
});

describe('Channel: guaranteed knobs', () => {
  it.each([
    ['maxReceiveCount', { maxReceiveCount: 8 }, 'AWS::SQS::Queue', { RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 8 } }],
    ['a larger visibility timeout', { visibilityTimeoutSeconds: 900 }, 'AWS::SQS::Queue', { RedrivePolicy: Match.anyValue(), VisibilityTimeout: 900 }],
    ['the batching window in the derived visibility', { timeoutSeconds: 10, maxBatchingWindowSeconds: 5 }, 'AWS::SQS::Queue', { RedrivePolicy: Match.anyValue(), VisibilityTimeout: 65 }],
    ['retention', { retentionPeriodSeconds: 86_400 }, 'AWS::SQS::Queue', { RedrivePolicy: Match.anyValue(), MessageRetentionPeriod: 86_400 }],
    ['batch size and window', { batchSize: 50, maxBatchingWindowSeconds: 2 }, 'AWS::Lambda::EventSourceMapping', { BatchSize: 50, MaximumBatchingWindowInSeconds: 2 }],
    ['maxConcurrency on the mapping', { maxConcurrency: 4 }, 'AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 4 } }],
    ['timeout and memory', { timeoutSeconds: 12, memorySizeMb: 1024 }, 'AWS::Lambda::Function', { Timeout: 12, MemorySize: 1024 }],
  ] as const)('sets %s', (_knob, policy, type, properties) => {
    const { template } = channelStack('orders', { kind: 'guaranteed', ...policy });
    template.hasResourceProperties(type, properties);
  });

  it('makes the queue and the DLQ FIFO together', () => {
    const { template } = channelStack('ledger', { kind: 'guaranteed', fifo: true });
    const queues = Object.values(template.findResources('AWS::SQS::Queue'));
    expect(queues.map((queue) => queue.Properties.FifoQueue)).toStrictEqual([true, true]);
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, ContentBasedDeduplication: false, RedrivePolicy: Match.anyValue() });
  });

  it('rejects a visibility timeout below 6 × timeout + window, naming the channel and the numbers', () => {
    expect(() => channelStack('orders', { kind: 'guaranteed', timeoutSeconds: 30, maxBatchingWindowSeconds: 10, visibilityTimeoutSeconds: 30 })).toThrow(
      /^orders: visibilityTimeoutSeconds must be at least 6 × timeout \+ batching window \(190\).*but 30 was provided$/m,
    );
  });
});

describe('Channel: fire-and-forget', () => {
  const { template } = channelStack('presence', { kind: 'fire-and-forget', timeToLiveSeconds: 30, timeoutSeconds: 5 });

  it('creates one queue, no DLQ, with the shortest retention SQS allows that covers the time to live', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 60, RedrivePolicy: Match.absent(), VisibilityTimeout: 30, SqsManagedSseEnabled: true });
  });

  it('keeps partial batch responses on and gives the consumer no DLQ to send to', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DEAD_LETTER_QUEUE_URL: Match.absent(), QUEUE_URL: Match.anyValue() }) },
    });
  });

  it('covers a longer time to live with a longer retention', () => {
    const { template: longer } = channelStack('digest', { kind: 'fire-and-forget', timeToLiveSeconds: 3600 });
    longer.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 3600 });
  });
});

describe('Channel: misuse', () => {
  it('refuses a request-response definition', () => {
    expect(() => channelStack('quotes', { kind: 'request-response' })).toThrow(/quotes: a request-response channel is deployed with Responder/);
  });
});

describe('Channel: provisioned pollers, the mapping\'s metrics, recursive loops', () => {
  it('puts the mapping in provisioned mode with the pollers asked for, and no concurrency cap', () => {
    const { template } = channelStack('bursts', { kind: 'guaranteed', provisionedPollers: { minimum: 2, maximum: 20 } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 20 },
      ScalingConfig: Match.absent(),
    });
  });

  it.each([
    ['with maxConcurrency', { provisionedPollers: { minimum: 2, maximum: 20 }, maxConcurrency: 5 }, /bursts: provisionedPollers cannot be combined with maxConcurrency/],
    ['below SQS\'s minimum of 2 pollers', { provisionedPollers: { minimum: 1, maximum: 20 } }, /bursts: provisionedPollers needs a whole minimum from 2 to 200/],
    ['above 2000 pollers', { provisionedPollers: { minimum: 2, maximum: 2001 } }, /maximum from 2 to 2000/],
    ['with its minimum above its maximum', { provisionedPollers: { minimum: 30, maximum: 20 } }, /bursts: provisionedPollers needs its minimum at most its maximum, but \{"minimum":30,"maximum":20\} was provided/],
  ])('refuses provisioned pollers %s', (_case, policy, message) => {
    expect(() => channelStack('bursts', { kind: 'guaranteed', ...policy })).toThrow(message);
  });

  it('turns on the mapping\'s event metrics and states the recursive-loop guard, on every policy', () => {
    for (const kind of ['guaranteed', 'fire-and-forget'] as const) {
      const { template } = channelStack('plain', kind === 'guaranteed' ? { kind } : { kind, timeToLiveSeconds: 60 });
      template.allResourcesProperties('AWS::Lambda::EventSourceMapping', { MetricsConfig: { Metrics: ['EventCount'] } });
      template.allResourcesProperties('AWS::Lambda::Function', { RecursiveLoop: 'Terminate' });
    }
  });
});
