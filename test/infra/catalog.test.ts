import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { channels, topics } from '../../lib/channels.ts';
import { ChannelCatalog } from '../../lib/constructs/catalog.ts';
import { defineChannel, FunctionEnv, OutputKey, ReplyQueue, SenderEnv, type Catalog } from '../../lib/policy/index.ts';
import { Function as LambdaFunction, InlineCode, Runtime } from 'aws-cdk-lib/aws-lambda';
import { AccountRootPrincipal } from 'aws-cdk-lib/aws-iam';
import { templateApp } from './helpers.ts';

// Handler files laid out by the catalog's convention. What they do is the runtime's tests' business; here they
// only have to exist (templateApp skips bundling). NodejsFunction wants them under the project's root, so not in
// the OS's tmp.
mkdirSync('node_modules/.cache', { recursive: true });
const handlersDir = mkdtempSync(join('node_modules/.cache', 'catalog-handlers-'));
function handlerFile(...path: string[]) {
  mkdirSync(join(handlersDir, ...path.slice(0, -1)), { recursive: true });
  writeFileSync(join(handlersDir, ...path), 'export const handler = async () => ({ batchItemFailures: [] });\n');
}
handlerFile('orders', 'index.ts');
handlerFile('presence', 'index.ts');
handlerFile('quotes', 'primary.ts');
handlerFile('quotes', 'fallback.ts');
handlerFile('billing', 'index.ts');
handlerFile('shipping', 'index.ts');
handlerFile('salesAlerts', 'index.ts');
handlerFile('ledger', 'index.ts');
afterAll(() => rmSync(handlersDir, { recursive: true, force: true }));

function synthesize(catalog: Catalog, extend?: (stack: Stack, built: ChannelCatalog) => void) {
  const stack = new Stack(templateApp(), 'App');
  const built = new ChannelCatalog(stack, 'Channels', { channels: catalog, topics, handlersDir });
  extend?.(stack, built);
  return Template.fromStack(stack);
}

describe('ChannelCatalog', () => {
  it('builds a new channel from its declaration and its handler file alone', () => {
    // GIVEN one more declaration, and its handler where the convention puts it
    const invoices = defineChannel('invoices', { policy: { kind: 'guaranteed', effect: 'transactional' }, schema: z.object({ invoiceId: z.string() }) });
    handlerFile('invoices', 'index.ts');
    // WHEN the catalog holds it
    const template = synthesize({ ...channels, invoices });
    // THEN it has its queue and DLQ, consumer, outputs, alarms (DLQ depth, queue age, stuck retries) and dashboard widgets, like the others
    expect(Object.keys(template.findOutputs('*'))).toEqual(
      expect.arrayContaining([OutputKey.queueUrl('invoices'), OutputKey.deadLetterQueueUrl('invoices'), OutputKey.consumerFunctionName('invoices')]),
    );
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => String(alarm.Properties.AlarmDescription));
    expect(alarms.filter((description) => description.startsWith('invoices:'))).toHaveLength(3);
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'))).toContain('invoices: queue');
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 7);
    // orders, billing, shipping, ledger and invoices with their DLQs, presence, salesAlerts, and the topic's undelivered queue.
    template.resourceCountIs('AWS::SQS::Queue', 13);
  });

  it('fails naming the channel and the path when a handler file is missing', () => {
    const refunds = defineChannel('refunds', { policy: { kind: 'guaranteed' }, schema: z.object({}) });
    expect(() => synthesize({ ...channels, refunds })).toThrow(/^refunds: no consumer handler at .*refunds\/index\.ts/);
  });

  it('grants a sender what it uses, and puts the endpoints in its environment for the SDK to find', () => {
    // GIVEN a function that sends orders, asks for quotes and awaits replies
    const template = synthesize(channels, (stack, catalog) => {
      const sender = new LambdaFunction(stack, 'Sender', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: new InlineCode('export const handler = async () => {}') });
      catalog.grantSend(sender, 'orders');
      catalog.grantRequest(sender, 'quotes');
      catalog.grantReadReplies(sender);
    });
    // THEN its environment names exactly those endpoints, under the keys discovery reads
    const [, sender] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('Sender'))!;
    expect(Object.keys(sender!.Properties.Environment.Variables).sort()).toStrictEqual(
      [OutputKey.queueUrl('orders'), OutputKey.primaryFunctionName('quotes'), OutputKey.fallbackFunctionName('quotes'), OutputKey.lifecycleTableName, OutputKey.replyQueuePrefix]
        .map(SenderEnv.output)
        .sort(),
    );
    // AND its role may send to the orders queue, invoke both responders, read lifecycle records and keep a reply queue
    // of the stack's, and nothing else
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes('SenderServiceRole'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    expect(new Set(statements.flatMap((statement) => [statement.Action].flat()))).toStrictEqual(
      new Set([
        'sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'lambda:InvokeFunction', 'dynamodb:GetItem', 'dynamodb:BatchGetItem',
        'sqs:CreateQueue', 'sqs:TagQueue', 'sqs:ListQueueTags', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:DeleteQueue', 'sqs:ListQueues',
      ]),
    );
    const logicalIdOf = (prefix: string, type: string) => Object.keys(template.findResources(type)).find((id) => id.startsWith(prefix))!;
    const resourcesOf = (action: string) => JSON.stringify(statements.filter((statement) => [statement.Action].flat().includes(action)).map((statement) => statement.Resource));
    expect(resourcesOf('sqs:SendMessage')).toContain(logicalIdOf('ChannelsordersQueue', 'AWS::SQS::Queue'));
    expect(resourcesOf('sqs:SendMessage')).not.toContain(logicalIdOf('ChannelspresenceQueue', 'AWS::SQS::Queue'));
    for (const responder of ['ChannelsquotesPrimary', 'ChannelsquotesFallback']) {
      expect(resourcesOf('lambda:InvokeFunction')).toContain(logicalIdOf(responder, 'AWS::Lambda::Function'));
    }
    expect(resourcesOf('dynamodb:GetItem')).toContain(logicalIdOf('ChannelsLifecycle', 'AWS::DynamoDB::GlobalTable'));
    expect(resourcesOf('dynamodb:GetItem')).not.toContain(logicalIdOf('ChannelsState', 'AWS::DynamoDB::GlobalTable'));
    for (const action of ['sqs:CreateQueue', 'sqs:ReceiveMessage', 'sqs:DeleteQueue']) expect(JSON.parse(resourcesOf(action))).toStrictEqual([{ 'Fn::Join': ['', expect.arrayContaining([':App_reply_*'])] }]);
  });

  it('lets the consumer of a channel that keeps replies notify the stack\'s reply queues, and no other consumer', () => {
    const template = synthesize(channels);
    const consumers = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => id.includes('Consumer'));
    const prefixed = consumers.filter(([, fn]) => fn.Properties.Environment.Variables[FunctionEnv.replyQueuePrefix] === ReplyQueue.prefix('App')).map(([id]) => id);
    // orders and billing keep replies; presence, shipping, salesAlerts and ledger do not
    expect(prefixed.map((id) => id.replace(/Consumer.*/, '')).sort()).toStrictEqual(['Channelsbilling', 'Channelsorders']);
    const notifying = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) => JSON.stringify(policy.Properties.PolicyDocument).includes(':App_reply_*'));
    expect(notifying.map((policy) => JSON.stringify(policy.Properties.Roles).match(/Channels(\w+?)Consumer/)![1]).sort()).toStrictEqual(['billing', 'orders']);
    template.hasOutput(OutputKey.replyQueuePrefix, { Value: 'App_reply_' });
  });

  it('refuses a grant on a channel of the wrong policy', () => {
    expect(() => synthesize(channels, (_stack, catalog) => catalog.grantSend(new AccountRootPrincipal(), 'quotes'))).toThrow(/grantSend: quotes is not a guaranteed or fire-and-forget channel/);
  });

  it('refuses onward access for a channel without a consumer, and to a channel or topic it does not have', () => {
    const catalog = (onward: Record<string, { send?: string[]; publish?: string[] }>) => () => new ChannelCatalog(new Stack(templateApp(), 'App'), 'Channels', { channels, topics, handlersDir, onward });
    expect(catalog({ quotes: { send: ['ledger'] } })).toThrow(/onward\.quotes names no guaranteed or fire-and-forget channel/);
    expect(catalog({ billing: { send: ['refunds'] } })).toThrow(/grantSend: refunds is not a guaranteed or fire-and-forget channel/);
    expect(catalog({ billing: { publish: ['orderShipped'] } })).toThrow(/grantPublish: orderShipped is not a topic of this catalog \(orderPlaced\)/);
  });

  it('refuses a channel listed under a name other than its own', () => {
    expect(() => synthesize({ ...channels, billing: channels.orders })).toThrow(/the entry "billing" holds the channel "orders"/);
  });
});
