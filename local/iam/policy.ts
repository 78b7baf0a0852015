/**
 * IAM's policy evaluation for one principal in one account, as far as a function's calls need it: identity
 * policies, resource policies, explicit denies, wildcards and the common condition operators. Written here rather
 * than taken from a library because the evaluators that exist are either AGPL (@cloud-copilot/iam-simulate) or a
 * whole-account simulator; this is the focused part, and what it leaves out is listed in README.
 */

export interface PolicyDocument {
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
  /** Where the local cloud read it (the template's logical id, a managed policy's ARN): for explaining a denial. */
  readonly name?: string;
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Principal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly NotPrincipal?: Readonly<Record<string, string | readonly string[]>>;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** One call as IAM sees it: who, which action on which resource, and the request's context keys. */
export interface AuthorizationRequest {
  /** The role's ARN (arn:aws:iam::<account>:role/<name>), or for an AWS service calling on its own behalf, its name. */
  readonly principalArn: string;
  /** Set when the caller is an AWS service (sns.amazonaws.com), which only a resource policy's Service principal names. */
  readonly service?: boolean;
  readonly account: string;
  /** service:Operation, e.g. dynamodb:PutItem. */
  readonly action: string;
  readonly resource: string;
  /** Condition keys, lower-cased (aws:securetransport → 'true'); a multivalued key (dynamodb:leadingkeys) has a list. */
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly because: 'no identity-based policy allows' | 'explicit deny in an identity-based policy' | 'explicit deny in a resource-based policy' };

/**
 * IAM's order for a principal of the resource's own account: an explicit deny anywhere wins; then an allow in an
 * identity policy, or a resource policy's allow naming the principal; anything else is denied.
 */
export function evaluate(request: AuthorizationRequest, identityPolicies: readonly PolicyDocument[], resourcePolicy?: PolicyDocument): Decision {
  const identity = identityPolicies.flatMap(statementsOf).filter((statement) => applies(statement, request));
  const resource = (resourcePolicy ? statementsOf(resourcePolicy) : []).filter(
    (statement) => namesPrincipal(statement, request) && applies(statement, request),
  );
  if (identity.some((statement) => statement.Effect === 'Deny')) return { allowed: false, because: 'explicit deny in an identity-based policy' };
  if (resource.some((statement) => statement.Effect === 'Deny')) return { allowed: false, because: 'explicit deny in a resource-based policy' };
  const resourceAllows = resource.some((statement) => statement.Effect === 'Allow' && namesPrincipal(statement, request, true));
  if (identity.some((statement) => statement.Effect === 'Allow') || resourceAllows) return { allowed: true };
  return { allowed: false, because: 'no identity-based policy allows' };
}

/**
 * Why a request `evaluate` denies is denied, for a person fixing the grant: the statement that denies it, or else the
 * statements that come closest to allowing it (the action, on another resource; or action and resource, under a
 * condition that does not hold), or that no statement names the action at all.
 */
export function explainDenial(request: AuthorizationRequest, identityPolicies: readonly PolicyDocument[], resourcePolicy?: PolicyDocument): string {
  const labelled = identityPolicies.flatMap((document) => statementsOf(document).map((statement, index) => ({ statement, where: where(statement, index, `policy ${document.name ?? '(unnamed)'}`) })));
  const onResource = (resourcePolicy ? statementsOf(resourcePolicy) : []).map((statement, index) => ({ statement, where: where(statement, index, "the resource's policy") }));
  const denying = [...labelled, ...onResource.filter(({ statement }) => namesPrincipal(statement, request))].find(({ statement }) => statement.Effect === 'Deny' && applies(statement, request));
  if (denying) return `${denying.where} denies it${denying.statement.Condition ? ` (its condition holds: ${JSON.stringify(denying.statement.Condition)})` : ''}`;
  const allowing = labelled.filter(({ statement }) => statement.Effect === 'Allow' && actionMatches(statement, request.action));
  if (allowing.length === 0) {
    const names = identityPolicies.map((document) => document.name ?? '(unnamed)').join(', ') || 'none';
    return `no statement of the role's policies (${names}) names ${request.action}`;
  }
  return allowing
    .slice(0, 3)
    .map(({ statement, where: place }) => {
      if (!resourceMatches(statement, request.resource)) return `${place} allows ${request.action} only on ${list(statement.Resource).join(', ') || '(no resource)'}`;
      return `${place} allows it only where ${failedCondition(statement.Condition ?? {}, request.context) ?? 'its condition holds'}`;
    })
    .join('; ');
}

function where(statement: PolicyStatement, index: number, document: string): string {
  return `statement ${statement.Sid ? `"${statement.Sid}"` : `#${index + 1}`} of ${document}`;
}

/** The first condition of a statement the request fails, said as the condition and what the request has. */
function failedCondition(conditions: NonNullable<PolicyStatement['Condition']>, context: AuthorizationRequest['context']): string | undefined {
  for (const [operator, keys] of Object.entries(conditions)) {
    for (const [key, value] of Object.entries(keys)) {
      if (conditionsHold({ [operator]: { [key]: value } }, context)) continue;
      const found = context[key.toLowerCase()];
      return `${operator} ${key} ${JSON.stringify(value)}, and the request has ${found === undefined ? 'no such key' : JSON.stringify(found)}`;
    }
  }
  return undefined;
}

/** Condition operators this evaluator does not know, with the statement they are in: a statement using one never applies. */
export function unsupportedConditions(document: PolicyDocument): string[] {
  return statementsOf(document).flatMap((statement) =>
    Object.keys(statement.Condition ?? {})
      .filter((operator) => !parseOperator(operator))
      .map((operator) => `${operator} in ${statement.Sid ?? `a ${statement.Effect} statement`}`),
  );
}

function statementsOf(document: PolicyDocument): readonly PolicyStatement[] {
  return Array.isArray(document.Statement) ? document.Statement : [document.Statement as PolicyStatement];
}

const list = (value: string | readonly string[] | undefined): readonly string[] => (value === undefined ? [] : typeof value === 'string' ? [value] : value);

function applies(statement: PolicyStatement, request: AuthorizationRequest): boolean {
  return actionMatches(statement, request.action) && resourceMatches(statement, request.resource) && conditionsHold(statement.Condition ?? {}, request.context);
}

function actionMatches(statement: PolicyStatement, action: string): boolean {
  return statement.NotAction
    ? !list(statement.NotAction).some((pattern) => wildcard(pattern, true).test(action))
    : list(statement.Action).some((pattern) => wildcard(pattern, true).test(action));
}

function resourceMatches(statement: PolicyStatement, resource: string): boolean {
  // A resource policy's statement may leave Resource out: it is about the resource it is attached to.
  return statement.NotResource
    ? !list(statement.NotResource).some((pattern) => wildcard(pattern, false).test(resource))
    : statement.Resource === undefined || list(statement.Resource).some((pattern) => wildcard(pattern, false).test(resource));
}

/**
 * Whether a resource policy's statement is about this principal. The account itself (its id or root) stands for every
 * principal in it when denying, but allows nothing by itself: that is left to the identity policies.
 */
function namesPrincipal(statement: PolicyStatement, request: AuthorizationRequest, toAllow = false): boolean {
  const accountNames = [request.account, `arn:aws:iam::${request.account}:root`];
  const names = (principal: PolicyStatement['Principal']): boolean => {
    if (principal === '*') return true;
    if (request.service) return list(principal?.Service).includes(request.principalArn);
    const aws = list(principal?.AWS);
    return aws.includes('*') || aws.includes(request.principalArn) || (!toAllow && aws.some((name) => accountNames.includes(name)));
  };
  if (statement.NotPrincipal) return !names(statement.NotPrincipal);
  return names(statement.Principal);
}

const patterns = new Map<string, RegExp>();

/** IAM's wildcards: * any run of characters, ? one; actions match case-insensitively, resources exactly. */
function wildcard(pattern: string, ignoreCase: boolean): RegExp {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let compiled = patterns.get(key);
  if (!compiled) {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    compiled = new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
    patterns.set(key, compiled);
  }
  return compiled;
}

type Comparison = (actual: string, expected: string) => boolean;

const COMPARISONS: Record<string, { compare: Comparison; negated: boolean }> = {
  StringEquals: { compare: (actual, expected) => actual === expected, negated: false },
  StringNotEquals: { compare: (actual, expected) => actual === expected, negated: true },
  StringEqualsIgnoreCase: { compare: (actual, expected) => actual.toLowerCase() === expected.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (actual, expected) => actual.toLowerCase() === expected.toLowerCase(), negated: true },
  StringLike: { compare: (actual, expected) => wildcard(expected, false).test(actual), negated: false },
  StringNotLike: { compare: (actual, expected) => wildcard(expected, false).test(actual), negated: true },
  ArnEquals: { compare: (actual, expected) => wildcard(expected, false).test(actual), negated: false },
  ArnLike: { compare: (actual, expected) => wildcard(expected, false).test(actual), negated: false },
  ArnNotEquals: { compare: (actual, expected) => wildcard(expected, false).test(actual), negated: true },
  ArnNotLike: { compare: (actual, expected) => wildcard(expected, false).test(actual), negated: true },
  Bool: { compare: (actual, expected) => actual.toLowerCase() === expected.toLowerCase(), negated: false },
  NumericEquals: { compare: (actual, expected) => Number(actual) === Number(expected), negated: false },
  NumericNotEquals: { compare: (actual, expected) => Number(actual) === Number(expected), negated: true },
  NumericLessThan: { compare: (actual, expected) => Number(actual) < Number(expected), negated: false },
  NumericLessThanEquals: { compare: (actual, expected) => Number(actual) <= Number(expected), negated: false },
  NumericGreaterThan: { compare: (actual, expected) => Number(actual) > Number(expected), negated: false },
  NumericGreaterThanEquals: { compare: (actual, expected) => Number(actual) >= Number(expected), negated: false },
};

/** How a condition compares a key that may hold several values: ForAllValues:, ForAnyValue:, or the key's one value. */
type SetOperator = 'all' | 'any' | 'single';

interface ParsedOperator {
  readonly set: SetOperator;
  readonly ifExists: boolean;
  readonly compare: Comparison;
  readonly negated: boolean;
}

function parseOperator(operator: string): ParsedOperator | 'Null' | undefined {
  if (operator === 'Null') return 'Null';
  const [qualifier, name] = operator.includes(':') ? (operator.split(':', 2) as [string, string]) : [undefined, operator];
  const set: SetOperator | undefined = qualifier === undefined ? 'single' : qualifier === 'ForAllValues' ? 'all' : qualifier === 'ForAnyValue' ? 'any' : undefined;
  if (!set) return undefined;
  const ifExists = name.endsWith('IfExists');
  const comparison = COMPARISONS[ifExists ? name.slice(0, -'IfExists'.length) : name];
  return comparison && { set, ifExists, ...comparison };
}

/** Whether one value of the request satisfies the operator: any expected value matches (a negated one: none does). */
function satisfies(operator: ParsedOperator, actual: string, expected: readonly string[]): boolean {
  const matches = expected.some((wanted) => operator.compare(actual, wanted));
  return operator.negated ? !matches : matches;
}

/**
 * Every operator, and every key under it, must hold. A single-valued key holds if its value satisfies the operator; a
 * key missing from the request fails a positive operator and passes a negated one, unless IfExists makes it pass.
 * ForAllValues holds if every value of the request's key satisfies the operator, and so also when the key is missing
 * or empty, as in AWS (which is why a LeadingKeys condition grants no Scan: the Scan is simply not granted);
 * ForAnyValue holds if at least one does.
 */
function conditionsHold(conditions: NonNullable<PolicyStatement['Condition']>, context: AuthorizationRequest['context']): boolean {
  return Object.entries(conditions).every(([operator, keys]) => {
    const parsed = parseOperator(operator);
    if (!parsed) return false;
    return Object.entries(keys).every(([key, value]) => {
      const expected = (Array.isArray(value) ? value : [value]).map(String);
      const found = context[key.toLowerCase()];
      const actual: readonly string[] | undefined = found === undefined ? undefined : typeof found === 'string' ? [found] : found;
      if (parsed === 'Null') return expected.some((wanted) => (wanted.toLowerCase() === 'true') === (actual === undefined));
      if (parsed.set === 'all') return (actual ?? []).every((one) => satisfies(parsed, one, expected));
      if (parsed.set === 'any') return (actual ?? []).some((one) => satisfies(parsed, one, expected));
      if (actual === undefined || actual.length === 0) return parsed.ifExists || parsed.negated;
      return actual.some((one) => satisfies(parsed, one, expected));
    });
  });
}
