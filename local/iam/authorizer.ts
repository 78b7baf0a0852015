import { LOCAL_REGION } from '../emulators.ts';
import { LOCAL_ACCOUNT } from '../intrinsics.ts';
import { functionAccessKey, type FunctionIdentity } from './identities.ts';
import { evaluate, type PolicyDocument } from './policy.ts';
import type { Authorization } from './requests.ts';

/**
 * Decides the calls of the local cloud's functions, known by the access key each signs with; a call signed with any
 * other key (the developer's shell, the SDK, the CLI, the local cloud itself) is not checked, as an administrator's
 * would pass. Its identities are replaced when the app is synthesized again, so a new grant applies without a restart.
 */
export class Authorizer {
  #identities = new Map<string, FunctionIdentity>();
  #resourcePolicies = new Map<string, PolicyDocument>();

  public constructor(identities: readonly FunctionIdentity[], resourcePolicies: ReadonlyMap<string, PolicyDocument>) {
    this.replace(identities, resourcePolicies);
  }

  public replace(identities: readonly FunctionIdentity[], resourcePolicies: ReadonlyMap<string, PolicyDocument>): void {
    this.#identities = new Map(identities.map((identity) => [functionAccessKey(identity.functionName), identity]));
    this.#resourcePolicies = new Map(resourcePolicies);
  }

  /** The functions whose calls cannot be checked, and why. */
  public get notEnforced(): string[] {
    return [...this.#identities.values()].flatMap((identity) => (identity.notEnforced ? [`${identity.functionName}: ${identity.notEnforced}`] : []));
  }

  /** Whether a call signed with this key is checked at all; the gateways forward the others untouched. */
  public checks(accessKey: string | undefined): boolean {
    return this.#checked(accessKey) !== undefined;
  }

  /**
   * What CreateEventSourceMapping checks, so that a deploy fails on it: that the function's role may receive, delete
   * and read the attributes of the queue's messages. Undefined when it may.
   */
  public mappingDenial(functionName: string, queueArn: string): string | undefined {
    const needed = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'].map((action) => ({ action, resource: queueArn }));
    return this.denial(functionAccessKey(functionName), needed);
  }

  /** AWS's AccessDenied message for the first of the authorizations that is denied, or undefined if all are allowed. */
  public denial(accessKey: string | undefined, authorizations: readonly Authorization[]): string | undefined {
    const identity = this.#checked(accessKey);
    if (!identity) return undefined;
    const context = {
      'aws:securetransport': 'true', // the SDK speaks HTTPS to AWS; only the loopback hop here is plain HTTP
      'aws:principalarn': identity.roleArn,
      'aws:principalaccount': LOCAL_ACCOUNT,
      'aws:principaltype': 'AssumedRole',
      'aws:requestedregion': LOCAL_REGION,
    };
    for (const { action, resource, context: keys } of authorizations) {
      const request = { principalArn: identity.roleArn, account: LOCAL_ACCOUNT, action, resource, context: { ...context, ...keys } };
      const decision = evaluate(request, identity.policies, this.#resourcePolicies.get(resource.replace(/\/index\/.*$/, '')));
      if (decision.allowed) continue;
      const caller = `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${identity.roleArn.split('/').pop()}/${identity.functionName}`;
      const reason = decision.because === 'no identity-based policy allows' ? `because no identity-based policy allows the ${action} action` : `with an ${decision.because}`;
      return `User: ${caller} is not authorized to perform: ${action} on resource: ${resource} ${reason}`;
    }
    return undefined;
  }

  /** The function whose calls this key signs, if they are checked. */
  #checked(accessKey: string | undefined): FunctionIdentity | undefined {
    const identity = accessKey === undefined ? undefined : this.#identities.get(accessKey);
    return identity?.notEnforced === undefined ? identity : undefined;
  }
}
