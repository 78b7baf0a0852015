import { LOCAL_REGION } from '../emulators.ts';
import { LOCAL_ACCOUNT } from '../intrinsics.ts';
import { functionAccessKey, type FunctionIdentity } from './identities.ts';
import { evaluate, explainDenial, type PolicyDocument } from './policy.ts';
import type { Authorization } from './requests.ts';

/**
 * Decides the calls of the local cloud's functions, known by the access key each signs with; a call signed with any
 * other key (the developer's shell, the SDK, the CLI, the local cloud itself) is not checked, as an administrator's
 * would pass. Its identities are replaced when the app is synthesized again, so a new grant applies without a restart.
 */
export class Authorizer {
  #identities = new Map<string, FunctionIdentity>();
  #resourcePolicies = new Map<string, PolicyDocument>();
  readonly #recent: Denial[] = [];
  readonly #onDenied: ((denial: Denial) => void) | undefined;

  public constructor(identities: readonly FunctionIdentity[], resourcePolicies: ReadonlyMap<string, PolicyDocument>, onDenied?: (denial: Denial) => void) {
    this.replace(identities, resourcePolicies);
    this.#onDenied = onDenied;
  }

  /** The last denials, oldest first: what the callers got, and why. */
  public get denials(): readonly Denial[] {
    return [...this.#recent];
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
      const message = `User: ${caller} is not authorized to perform: ${action} on resource: ${resource} ${reason}`;
      const denial = {
        at: Date.now(),
        functionName: identity.functionName,
        action,
        resource,
        message,
        why: explainDenial(request, identity.policies, this.#resourcePolicies.get(resource.replace(/\/index\/.*$/, ''))),
        grant: grantFor(action),
      };
      this.#recent.push(denial);
      if (this.#recent.length > MAX_DENIALS_KEPT) this.#recent.shift();
      this.#onDenied?.(denial);
      return message;
    }
    return undefined;
  }

  /** The function whose calls this key signs, if they are checked. */
  #checked(accessKey: string | undefined): FunctionIdentity | undefined {
    const identity = accessKey === undefined ? undefined : this.#identities.get(accessKey);
    return identity?.notEnforced === undefined ? identity : undefined;
  }
}

/** A call the local IAM refused: AWS's message, which the caller got, and what AWS does not say. */
export interface Denial {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly functionName: string;
  readonly action: string;
  readonly resource: string;
  readonly message: string;
  /** The statement that denied it, or the ones closest to allowing it and what they lacked. */
  readonly why: string;
  /** The CDK grant that would allow it. */
  readonly grant: string;
}

const MAX_DENIALS_KEPT = 100;

/** The grant of this library (or of CDK, for a resource no catalog built) that allows an action, by its service. */
function grantFor(action: string): string {
  const [service, operation = ''] = action.split(':');
  if (action === 'sqs:SendMessage') return "catalog.grantSend(fn, 'channel'); a consumer sending on: ChannelCatalog's onward: { consumer: { send: ['channel'] } }; another queue: queue.grantSendMessages(fn)";
  if (action === 'sns:Publish') return "catalog.grantPublish(fn, 'topic'); a consumer publishing: ChannelCatalog's onward: { consumer: { publish: ['topic'] } }; another topic: topic.grantPublish(fn)";
  if (action === 'lambda:InvokeFunction') return "catalog.grantRequest(fn, 'channel'); another function: target.grantInvoke(fn)";
  if (service === 'dynamodb') {
    const reads = /^(Get|BatchGet|Query|Scan|Describe|ConditionCheck)/.test(operation);
    return `a consumer's own state items: ChannelCatalog's stateAccess: { channel: { ${reads ? 'read' : 'write'}: ['prefix#'] } }; replies and status: catalog.grantReadReplies(fn); another table: table.${reads ? 'grantReadData' : 'grantReadWriteData'}(fn)`;
  }
  if (service === 'sqs') return 'queue.grantConsumeMessages(fn) (a channel\'s consumer has it already)';
  return `a policy statement allowing ${action} on the resource, e.g. fn.addToRolePolicy(new PolicyStatement({ actions: ['${action}'], resources: [arn] }))`;
}
