import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { resolvePolicy, type RequestResponsePolicy } from '../policy/index.ts';
import type { ChannelBaseProps } from './channel-base.ts';
import { ConsumerFunction } from './consumer-function.ts';

export interface ResponderProps extends ChannelBaseProps {
  /** Path of the primary responder's handler module. */
  readonly primaryEntry: string;
  /** Path of the fallback responder's handler module; required when the policy has a fallback. */
  readonly fallbackEntry?: string;
}

/**
 * A request-response channel: a primary function and, when the policy asks for one, a fallback that answers
 * when the primary fails, is throttled or is slow. Each function's timeout is the deadline rounded up to whole
 * seconds: past the deadline the caller has gone, so a longer run would only cost money. The SDK enforces the
 * deadline itself and fails over. Responders hold no grants: they compute from their request.
 */
export class Responder extends Construct {
  public readonly name: string;
  public readonly policy: RequestResponsePolicy;
  public readonly primary: ConsumerFunction;
  public readonly fallback?: ConsumerFunction;

  public constructor(scope: Construct, id: string, props: ResponderProps) {
    super(scope, id);
    const { definition } = props;
    const policy = resolvePolicy(definition.name, definition.policy);
    if (policy.kind !== 'request-response') {
      throw new Error(`${definition.name}: a ${policy.kind} channel is deployed with Channel, not Responder`);
    }
    if (policy.fallback && !props.fallbackEntry) {
      throw new Error(`${definition.name}: fallbackEntry must be given when the policy has fallback: true`);
    }
    this.name = definition.name;
    this.policy = policy;
    const common = {
      channel: definition.name,
      policy,
      timeoutSeconds: policy.timeoutSeconds,
      memorySizeMb: policy.memorySizeMb,
      stateTableName: props.stateTable.tableName,
    };
    this.primary = new ConsumerFunction(this, 'Primary', { ...common, entry: props.primaryEntry });
    if (policy.fallback && props.fallbackEntry) {
      this.fallback = new ConsumerFunction(this, 'Fallback', { ...common, entry: props.fallbackEntry });
    }
  }

  /** Lets a caller invoke the primary and the fallback. */
  public grantInvoke(grantee: IGrantable): void {
    this.primary.grantInvoke(grantee);
    this.fallback?.grantInvoke(grantee);
  }
}
