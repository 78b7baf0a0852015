import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { LifecycleKeys } from '../policy/index.ts';
import { grantByKeyPrefix } from './key-grants.ts';

export interface LifecycleTableProps {
  /**
   * What happens to the table when the stack is deleted. It holds what became of every guaranteed message (and which
   * were applied: a new table would apply them again on a redrive), so it is kept unless an environment is throwaway.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The runtime's memory of its messages, apart from the application's data: one item per guaranteed message and
 * channel, its lifecycle record, which is also its idempotency record. Each key starts with its channel's name, so a
 * consumer's role reaches only its own channel's records (a dynamodb:LeadingKeys condition): another channel's
 * consumer cannot read, rewrite or delete them, and so cannot undo their exactly-once. Expired records are removed
 * by DynamoDB's TTL.
 */
export class LifecycleTable extends Construct {
  public readonly table: TableV2;

  public constructor(scope: Construct, id: string, props: LifecycleTableProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: LifecycleKeys.partitionKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: LifecycleKeys.timeToLive,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  public get tableName(): string {
    return this.table.tableName;
  }

  /** What a channel's consumer does with its own records: read one, and write one conditionally. */
  public grantRecords(grantee: IGrantable, channel: string): void {
    grantByKeyPrefix(this.table, grantee, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [LifecycleKeys.prefix(channel)]);
  }

  /** What a reader of statuses and replies needs (the SDK's status and awaitReply): reading records, and nothing else. */
  public grantReadRecords(grantee: IGrantable): void {
    this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:BatchGetItem');
  }
}
