import type { Construct } from 'constructs';

/**
 * Whether the app is being synthesized for LocalStack (`cdklocal … -c target=localstack`, as `npm run
 * localstack:deploy` does). LocalStack writes a function's logs to /aws/lambda/<function> whatever its logging
 * configuration names, and has no CloudWatch dashboards; the constructs leave both out there.
 */
export function forLocalStack(scope: Construct): boolean {
  return scope.node.tryGetContext('target') === 'localstack';
}
