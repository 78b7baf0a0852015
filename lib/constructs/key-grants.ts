import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';

/** The DynamoDB actions a grant by key prefix gives: reads, and writes (a transaction's items are checked as these). */
export const ITEM_ACTIONS = {
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
  write: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'],
} as const;

/**
 * Lets `grantee` run `actions` on the items of `table` whose partition key starts with one of `prefixes`, and on no
 * other: a dynamodb:LeadingKeys condition, which DynamoDB checks against every partition key a call names. Nothing
 * on the table's indexes, and no Scan, which names no key.
 */
export function grantByKeyPrefix(table: ITableV2, grantee: IGrantable, actions: readonly string[], prefixes: readonly string[]): Grant {
  return Grant.addToPrincipal({
    grantee,
    actions: [...new Set(actions)],
    resourceArns: [table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) } },
  });
}
