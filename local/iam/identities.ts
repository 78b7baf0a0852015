import { createHash } from 'node:crypto';
import { LOCAL_ACCOUNT, queueArn, tableArn, UnresolvableError, type IntrinsicResolver, type ResourceAttributes } from '../intrinsics.ts';
import { physicalName } from '../provision.ts';
import type { SynthesizedStack, TemplateResource } from '../template.ts';
import { unsupportedConditions, type PolicyDocument } from './policy.ts';

/** Who a function's calls are, as IAM sees them: its role and every identity policy attached to the role. */
export interface FunctionIdentity {
  readonly functionName: string;
  readonly roleArn: string;
  readonly policies: readonly PolicyDocument[];
  /** Why its calls cannot be checked (a role or a managed policy the template does not hold); they are let through. */
  readonly notEnforced?: string;
}

/** The access key a function's instances sign with: it names the function to the local cloud, and only to it. */
export function functionAccessKey(functionName: string): string {
  return `ASIA${createHash('sha256').update(functionName).digest('hex').slice(0, 16).toUpperCase()}`;
}

/** The actions on SQS, DynamoDB and Lambda of the AWS managed policies Lambda roles commonly carry; the rest have none. */
const AWS_MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': { Statement: [] },
  'service-role/AWSLambdaVPCAccessExecutionRole': { Statement: [] },
  'AWSXRayDaemonWriteAccess': { Statement: [] },
  'CloudWatchLambdaInsightsExecutionRolePolicy': { Statement: [] },
  'service-role/AWSLambdaSQSQueueExecutionRole': {
    Statement: [{ Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: '*' }],
  },
  'service-role/AWSLambdaDynamoDBExecutionRole': {
    Statement: [{ Effect: 'Allow', Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'], Resource: '*' }],
  },
};

/** Makes the stack's roles and customer managed policies answer Ref and Fn::GetAtt as they would in AWS. */
export function registerIdentities(stack: SynthesizedStack, built: Map<string, ResourceAttributes>): void {
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role') {
      const name = typeof properties.RoleName === 'string' ? properties.RoleName : physicalName(stack.name, logicalId).slice(0, 64);
      const arn = `arn:aws:iam::${LOCAL_ACCOUNT}:role${typeof properties.Path === 'string' ? properties.Path : '/'}${name}`;
      built.set(logicalId, { ref: name, attributes: { Arn: arn, RoleId: `AROA${functionAccessKey(name).slice(4)}` } });
    } else if (resource.Type === 'AWS::IAM::ManagedPolicy') {
      const name = typeof properties.ManagedPolicyName === 'string' ? properties.ManagedPolicyName : physicalName(stack.name, logicalId).slice(0, 128);
      const arn = `arn:aws:iam::${LOCAL_ACCOUNT}:policy/${name}`;
      built.set(logicalId, { ref: arn, attributes: { PolicyArn: arn } });
    }
  }
}

/**
 * Each function's identity: the role its Role names and the policies on that role — inline, AWS::IAM::Policy and
 * AWS::IAM::ManagedPolicy resources naming it, and the managed policy ARNs it lists.
 */
export function functionIdentities(
  stack: SynthesizedStack,
  resolver: IntrinsicResolver,
  functions: ReadonlyMap<string, { readonly props: { readonly logicalId: string } }>,
  warn: (message: string) => void,
): FunctionIdentity[] {
  const resources = Object.entries(stack.resources);
  const resolved = (value: unknown, where: string) => resolveLeniently(resolver, value, where);
  const documentOf = (value: unknown, where: string): PolicyDocument => {
    const document = resolved(value, where) as PolicyDocument;
    for (const problem of unsupportedConditions(document)) warn(`${stack.name}: ${where}: condition operator ${problem} is not evaluated locally; that statement never applies`);
    return { ...document, name: where };
  };
  const customerManaged = new Map<string, PolicyDocument>();
  for (const [logicalId, resource] of resources) {
    if (resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    customerManaged.set(resolver.resolveString({ Ref: logicalId }, logicalId), documentOf(resource.Properties?.PolicyDocument, logicalId));
  }
  const roleNamesOf = (resource: TemplateResource, where: string) => (resolved(resource.Properties?.Roles ?? [], `${where}.Roles`) as string[]).map(String);

  const identities: FunctionIdentity[] = [];
  for (const [functionName, fn] of functions) {
    const role = String(resolved(stack.resources[fn.props.logicalId]?.Properties?.Role, `${fn.props.logicalId}.Role`));
    const roleEntry = resources.find(([logicalId, resource]) => resource.Type === 'AWS::IAM::Role' && resolver.resolveString({ 'Fn::GetAtt': [logicalId, 'Arn'] }, logicalId) === role);
    if (!roleEntry) {
      identities.push({ functionName, roleArn: role, policies: [], notEnforced: `its role ${role} is not in the template` });
      continue;
    }
    const [roleId, roleResource] = roleEntry;
    if (roleResource.Properties?.PermissionsBoundary !== undefined) {
      warn(`${stack.name}: ${roleId} has a permissions boundary, which is not evaluated locally: ${functionName} may be allowed here what AWS denies`);
    }
    const roleName = resolver.resolveString({ Ref: roleId }, roleId);
    const policies: PolicyDocument[] = [];
    const inline = (roleResource.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? [];
    inline.forEach((policy, index) => policies.push(documentOf(policy.PolicyDocument, `${roleId}.Policies[${index}]`)));
    for (const [logicalId, resource] of resources) {
      if ((resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') && roleNamesOf(resource, logicalId).includes(roleName)) {
        policies.push(documentOf(resource.Properties?.PolicyDocument, logicalId));
      }
    }
    const unknown: string[] = [];
    for (const arn of (resolved(roleResource.Properties?.ManagedPolicyArns ?? [], `${roleId}.ManagedPolicyArns`) as string[]).map(String)) {
      const managed = AWS_MANAGED_POLICIES[/^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(arn)?.[1] ?? ''];
      const document = customerManaged.get(arn) ?? (managed && { ...managed, name: arn });
      if (document) policies.push(document);
      else unknown.push(arn);
    }
    identities.push({
      functionName,
      roleArn: resolver.resolveString({ 'Fn::GetAtt': [roleId, 'Arn'] }, roleId),
      policies,
      ...(unknown.length > 0 ? { notEnforced: `its role has managed policies the local cloud cannot read: ${unknown.join(', ')}` } : {}),
    });
  }
  return identities;
}

/** The resource policies of the stack's queues, topics and tables, by the resource's ARN. */
export function resourcePolicies(stack: SynthesizedStack, resolver: IntrinsicResolver): Map<string, PolicyDocument> {
  const policies = new Map<string, PolicyDocument>();
  const attach = (arn: string, document: PolicyDocument) => {
    const statements = [policies.get(arn)?.Statement ?? [], document.Statement].flat() as PolicyDocument['Statement'];
    policies.set(arn, { Statement: statements });
  };
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::SQS::QueuePolicy') {
      const document = resolveLeniently(resolver, properties.PolicyDocument, `${logicalId}.PolicyDocument`) as PolicyDocument;
      for (const url of resolver.resolve(properties.Queues ?? [], `${logicalId}.Queues`) as string[]) attach(queueArn(String(url)), document);
    } else if (resource.Type === 'AWS::SNS::TopicPolicy') {
      const document = resolveLeniently(resolver, properties.PolicyDocument, `${logicalId}.PolicyDocument`) as PolicyDocument;
      for (const arn of resolver.resolve(properties.Topics ?? [], `${logicalId}.Topics`) as string[]) attach(String(arn), document);
    } else if (resource.Type === 'AWS::DynamoDB::Table' && properties.ResourcePolicy) {
      const document = resolveLeniently(resolver, (properties.ResourcePolicy as { PolicyDocument: unknown }).PolicyDocument, `${logicalId}.ResourcePolicy`) as PolicyDocument;
      attach(tableArn(resolver.resolveString({ Ref: logicalId }, logicalId)), document);
    }
  }
  return policies;
}

/**
 * Resolves a policy, leaving each expression the local cloud cannot resolve (a topic's or a key's ARN) as a string that
 * matches no resource: it names something that is not here, so no local call can be about it.
 */
function resolveLeniently(resolver: IntrinsicResolver, value: unknown, where: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => resolveLeniently(resolver, item, where));
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))) {
    try {
      return resolver.resolve(value, where);
    } catch (error) {
      if (error instanceof UnresolvableError) return `(not in the local cloud: ${JSON.stringify(value)})`;
      throw error;
    }
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveLeniently(resolver, item, where)]));
}
