import { Stack, type RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ChannelCatalog } from 'delivery-policies/constructs';
import { channels, topics } from '../channels.ts';

export interface DeliveryPoliciesStackProps extends StackProps {
  /** Where alarms notify: an existing topic, 'create' or 'none'. @default 'create' */
  readonly alarmTopic?: ITopic | 'create' | 'none';
  /** An e-mail address subscribed to the alarm topic. @default - none */
  readonly alarmEmail?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly stateRemovalPolicy?: RemovalPolicy;
}

/**
 * The example application: one channel per delivery policy, each declared once in lib/channels.ts with its
 * handler in functions/<name>/. `orders` must not be lost and is confirmed later; `presence` notices are worth
 * 30 s; `quotes` are needed now, from the live price list or, failing that, the cached one. The `orderPlaced` topic
 * reaches `billing` (guaranteed, billed once), `shipping` (guaranteed, handed to the warehouse, an outside effect) and
 * `salesAlerts` (fire-and-forget, large orders only); billing sends each invoice on to `ledger`, committed with the
 * invoice: a flow of three hops.
 */
export class DeliveryPoliciesStack extends Stack {
  public readonly catalog: ChannelCatalog;

  public constructor(scope: Construct, id: string, props: DeliveryPoliciesStackProps = {}) {
    super(scope, id, props);
    this.catalog = new ChannelCatalog(this, 'Channels', {
      channels,
      topics,
      // Each consumer reaches only the items its handler writes: orders its orders, presence its rooms, billing its
      // invoices, shipping the warehouse's pick list, the sales alerts their board, the ledger its entries.
      stateAccess: {
        orders: { write: ['order#'] },
        presence: { write: ['presence#'] },
        billing: { write: ['invoice#'] },
        shipping: { write: ['shipment#'] },
        salesAlerts: { write: ['alert#'] },
        ledger: { write: ['ledger#'] },
      },
      // Billing sends each invoice on to the ledger: its role may send there, and nowhere else.
      onward: { billing: { send: ['ledger'] } },
      alarmTopic: props.alarmTopic,
      alarmEmail: props.alarmEmail,
      stateRemovalPolicy: props.stateRemovalPolicy,
    });
  }
}
