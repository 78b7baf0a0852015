import { Annotations, Stack, Token, type IAspect } from 'aws-cdk-lib';
import { CfnEventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';

/**
 * Fails the synth when an SQS event source mapping lacks ReportBatchItemFailures. The runtime answers every
 * batch with a partial batch response; without the flag Lambda ignores it and deletes the whole batch on
 * success, failed records included: a silent loss. Applied to a whole stack, it also catches a mapping a user
 * adds by hand.
 */
export class BatchResponseGuard implements IAspect {
  public visit(node: IConstruct): void {
    if (!(node instanceof CfnEventSourceMapping) || !readsFromSqs(node)) return;
    const types = node.functionResponseTypes;
    if (Array.isArray(types) && types.includes('ReportBatchItemFailures')) return;
    Annotations.of(node).addError(
      `${node.node.path}: functionResponseTypes must include ReportBatchItemFailures for an SQS consumer, but ${JSON.stringify(types ?? [])} was provided; without it a partial batch response deletes failed records`,
    );
  }
}

function readsFromSqs(mapping: CfnEventSourceMapping): boolean {
  const source = mapping.eventSourceArn;
  if (source === undefined) return false;
  if (!Token.isUnresolved(source)) return source.startsWith('arn:') && source.split(':')[2] === 'sqs';
  const stack = Stack.of(mapping);
  const resolved = stack.resolve(source) as { 'Fn::GetAtt'?: [string, string] };
  const logicalId = resolved['Fn::GetAtt']?.[0];
  return stack.node
    .findAll()
    .some((construct) => construct instanceof CfnQueue && stack.resolve(construct.logicalId) === logicalId);
}
