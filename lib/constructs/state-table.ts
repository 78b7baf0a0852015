import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { StateKeys } from '../policy/index.ts';

export interface StateTableProps {
  /**
   * What happens to the table when the stack is deleted. It holds every message's lifecycle and the
   * handlers' effects, so it is kept unless a throwaway environment says otherwise.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The application's memory of its messages: one on-demand table holding each message's lifecycle record (also
 * its idempotency record) and the effects handlers commit with it. Single-table keys pk/sk; expired items are
 * removed by DynamoDB's TTL on `expiresAt`.
 */
export class StateTable extends Construct {
  public readonly table: TableV2;

  public constructor(scope: Construct, id: string, props: StateTableProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: StateKeys.partitionKey, type: AttributeType.STRING },
      sortKey: { name: StateKeys.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: StateKeys.timeToLive,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  public get tableName(): string {
    return this.table.tableName;
  }
}
