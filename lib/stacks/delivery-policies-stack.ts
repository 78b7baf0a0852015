import { Aspects, CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { orders, presence, quotes } from '../channels.ts';
import { BatchResponseGuard } from '../constructs/batch-response-guard.ts';
import { Channel } from '../constructs/channel.ts';
import { Operations } from '../constructs/channel-alarms.ts';
import { Responder } from '../constructs/responder.ts';
import { StateTable } from '../constructs/state-table.ts';
import { OutputKey } from '../policy/index.ts';

export interface DeliveryPoliciesStackProps extends StackProps {
  /** Where alarms notify: an existing topic, or 'create'. @default - alarms without actions */
  readonly alarmTopic?: ITopic | 'create';
  /** @default RemovalPolicy.RETAIN */
  readonly stateRemovalPolicy?: RemovalPolicy;
}

const entry = (handler: string) => new URL(`../../functions/${handler}/index.ts`, import.meta.url).pathname;

/**
 * The example application: one channel per delivery policy. `orders` must not be lost and is confirmed later;
 * `presence` notices are worth 30 s; `quotes` are needed now, from the live price list or, failing that, the
 * cached one. Each channel's endpoints are stack outputs, which the SDK and the CLI discover.
 */
export class DeliveryPoliciesStack extends Stack {
  public constructor(scope: Construct, id: string, props: DeliveryPoliciesStackProps = {}) {
    super(scope, id, props);
    const stateTable = new StateTable(this, 'State', { removalPolicy: props.stateRemovalPolicy });

    const ordersChannel = new Channel(this, 'Orders', { definition: orders, stateTable, entry: entry('orders') });
    const presenceChannel = new Channel(this, 'Presence', { definition: presence, stateTable, entry: entry('presence') });
    const quotesResponder = new Responder(this, 'Quotes', {
      definition: quotes,
      stateTable,
      primaryEntry: entry('quotes-primary'),
      fallbackEntry: entry('quotes-fallback'),
    });

    new Operations(this, 'Operations', {
      channels: [ordersChannel, presenceChannel],
      responders: [quotesResponder],
      alarmTopic: props.alarmTopic,
    });
    Aspects.of(this).add(new BatchResponseGuard());

    const output = (key: string, value: string) => new CfnOutput(this, key, { key, value });
    output(OutputKey.stateTableName, stateTable.tableName);
    for (const channel of [ordersChannel, presenceChannel]) {
      output(OutputKey.queueUrl(channel.name), channel.queue.queueUrl);
      output(OutputKey.consumerFunctionName(channel.name), channel.consumer.functionName);
      if (channel.deadLetterQueue) output(OutputKey.deadLetterQueueUrl(channel.name), channel.deadLetterQueue.queueUrl);
    }
    output(OutputKey.primaryFunctionName(quotesResponder.name), quotesResponder.primary.functionName);
    if (quotesResponder.fallback) output(OutputKey.fallbackFunctionName(quotesResponder.name), quotesResponder.fallback.functionName);
  }
}
