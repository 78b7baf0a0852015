import { describe, expect, it } from 'vitest';
import { Authorizer } from '../../local/iam/authorizer.ts';
import { functionAccessKey, type FunctionIdentity } from '../../local/iam/identities.ts';
import { evaluate, explainDenial, unsupportedConditions, type AuthorizationRequest, type PolicyDocument } from '../../local/iam/policy.ts';
import { canonicalCall, determined, dynamodbAuthorizations, readCall, sqsAuthorizations } from '../../local/iam/requests.ts';

const ROLE = 'arn:aws:iam::000000000000:role/Writer';
const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/Audit';
const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:inbox';

const request = (action: string, resource: string, context: AuthorizationRequest['context'] = { 'aws:securetransport': 'true' }): AuthorizationRequest => ({
  principalArn: ROLE,
  account: '000000000000',
  action,
  resource,
  context,
});
const allow = (Action: string | string[], Resource: string | string[], extra: object = {}): PolicyDocument => ({ Statement: [{ Effect: 'Allow', Action, Resource, ...extra }] });

describe('Function: evaluate (IAM policy evaluation)', () => {
  it('denies by default, naming why', () => {
    expect(evaluate(request('dynamodb:PutItem', TABLE), [])).toStrictEqual({ allowed: false, because: 'no identity-based policy allows' });
  });

  it('allows what an identity policy allows, actions case-insensitively and with wildcards, resources exactly', () => {
    expect(evaluate(request('dynamodb:PutItem', TABLE), [allow('DynamoDB:putitem', TABLE)]).allowed).toBe(true);
    expect(evaluate(request('dynamodb:PutItem', TABLE), [allow('dynamodb:*Item', 'arn:aws:dynamodb:*:*:table/Aud?t')]).allowed).toBe(true);
    expect(evaluate(request('dynamodb:PutItem', TABLE), [allow('dynamodb:PutItem', TABLE.toLowerCase())]).allowed).toBe(false);
    expect(evaluate(request('dynamodb:Query', `${TABLE}/index/byDate`), [allow('dynamodb:Query', TABLE)]).allowed).toBe(false);
  });

  it('treats NotAction and NotResource as the complement', () => {
    const everythingBut = { Statement: [{ Effect: 'Allow' as const, NotAction: 'dynamodb:DeleteItem', NotResource: QUEUE }] };
    expect(evaluate(request('dynamodb:PutItem', TABLE), [everythingBut]).allowed).toBe(true);
    expect(evaluate(request('dynamodb:DeleteItem', TABLE), [everythingBut]).allowed).toBe(false);
    expect(evaluate(request('sqs:SendMessage', QUEUE), [everythingBut]).allowed).toBe(false);
  });

  it('lets an explicit deny in either kind of policy win over any allow', () => {
    const deny: PolicyDocument = { Statement: [{ Effect: 'Deny', Action: 'sqs:*', Resource: QUEUE }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [allow('sqs:SendMessage', QUEUE), deny])).toStrictEqual({ allowed: false, because: 'explicit deny in an identity-based policy' });
    const queuePolicy: PolicyDocument = { Statement: [{ Effect: 'Deny', Principal: { AWS: ROLE }, Action: 'sqs:SendMessage', Resource: QUEUE }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [allow('sqs:*', '*')], queuePolicy)).toStrictEqual({ allowed: false, because: 'explicit deny in a resource-based policy' });
  });

  it("applies a resource policy's statements only to the principals they name; the account denies for all, allows for none", () => {
    const other = { Statement: [{ Effect: 'Deny' as const, Principal: { AWS: 'arn:aws:iam::000000000000:role/Other' }, Action: '*' }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [allow('sqs:*', '*')], other).allowed).toBe(true);
    const accountDeny = { Statement: [{ Effect: 'Deny' as const, Principal: { AWS: '000000000000' }, Action: '*' }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [allow('sqs:*', '*')], accountDeny).allowed).toBe(false);
    const accountAllow = { Statement: [{ Effect: 'Allow' as const, Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: '*' }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [], accountAllow).allowed).toBe(false);
    const roleAllow = { Statement: [{ Effect: 'Allow' as const, Principal: { AWS: [ROLE] }, Action: 'sqs:SendMessage' }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [], roleAllow).allowed).toBe(true);
  });

  it("keeps CDK's HTTPS-only queue policy from denying calls, which reach AWS over HTTPS", () => {
    const httpsOnly = { Statement: [{ Effect: 'Deny' as const, Principal: { AWS: '*' }, Action: 'sqs:*', Resource: QUEUE, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] };
    expect(evaluate(request('sqs:SendMessage', QUEUE), [allow('sqs:SendMessage', QUEUE)], httpsOnly).allowed).toBe(true);
    expect(evaluate(request('sqs:SendMessage', QUEUE, { 'aws:securetransport': 'false' }), [allow('sqs:SendMessage', QUEUE)], httpsOnly).allowed).toBe(false);
  });

  it.each([
    ['StringEquals', { 'aws:PrincipalArn': ROLE }, true],
    ['StringNotEquals', { 'aws:PrincipalArn': ROLE }, false],
    ['StringLike', { 'aws:PrincipalArn': 'arn:aws:iam::*:role/Wr*' }, true],
    ['ArnLike', { 'aws:PrincipalArn': ['arn:aws:iam::*:role/Other', 'arn:aws:iam::*:role/W*'] }, true],
    ['StringEquals', { 'aws:SourceVpce': 'vpce-1' }, false],
    ['StringNotEquals', { 'aws:SourceVpce': 'vpce-1' }, true],
    ['StringEqualsIfExists', { 'aws:SourceVpce': 'vpce-1' }, true],
    ['Null', { 'aws:SourceVpce': 'true' }, true],
    ['Null', { 'aws:PrincipalArn': 'true' }, false],
    ['NumericLessThan', { 'test:count': '5' }, true],
    ['DateLessThan', { 'aws:CurrentTime': '2030-01-01T00:00:00Z' }, false],
  ])('evaluates the condition %s %j as %s (a missing key fails a positive operator, passes a negated one)', (operator, keys, holds) => {
    const conditioned = allow('sqs:SendMessage', QUEUE, { Condition: { [operator]: keys } });
    const context = { 'aws:securetransport': 'true', 'aws:principalarn': ROLE, 'test:count': '3' };
    expect(evaluate(request('sqs:SendMessage', QUEUE, context), [conditioned]).allowed).toBe(holds);
  });

  it('names the condition operators it does not evaluate', () => {
    const document: PolicyDocument = { Statement: [{ Sid: 'Until2030', Effect: 'Allow', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:CurrentTime': '2030' } } }] };
    expect(unsupportedConditions(document)).toStrictEqual(['DateLessThan in Until2030']);
  });
});

describe('Function: explainDenial', () => {
  const named = (name: string, document: PolicyDocument): PolicyDocument => ({ ...document, name });

  it('names the statement that denies a call, in the role’s policies or the resource’s', () => {
    const deny: PolicyDocument = { Statement: [{ Sid: 'NoAudit', Effect: 'Deny', Action: 'dynamodb:*', Resource: TABLE }] };
    expect(explainDenial(request('dynamodb:PutItem', TABLE), [named('WriterPolicy', deny)])).toBe('statement "NoAudit" of policy WriterPolicy denies it');
    const sealed: PolicyDocument = { Statement: [{ Effect: 'Deny', Principal: '*', Action: 'sqs:SendMessage', Resource: QUEUE }] };
    expect(explainDenial(request('sqs:SendMessage', QUEUE), [named('WriterPolicy', allow('sqs:SendMessage', QUEUE))], sealed)).toBe("statement #1 of the resource's policy denies it");
  });

  it('says which statements came closest to allowing it, and what they lacked: the resource, or a condition', () => {
    const elsewhere = named('WriterPolicy', allow('dynamodb:PutItem', 'arn:aws:dynamodb:us-east-1:000000000000:table/Records'));
    expect(explainDenial(request('dynamodb:PutItem', TABLE), [elsewhere])).toBe('statement #1 of policy WriterPolicy allows dynamodb:PutItem only on arn:aws:dynamodb:us-east-1:000000000000:table/Records');
    const prefixed = named('WriterPolicy', allow('dynamodb:PutItem', TABLE, { Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['order#*'] } } }));
    expect(explainDenial(request('dynamodb:PutItem', TABLE, { 'dynamodb:leadingkeys': ['presence#lobby'] }), [prefixed])).toBe(
      'statement #1 of policy WriterPolicy allows it only where ForAllValues:StringLike dynamodb:LeadingKeys ["order#*"], and the request has ["presence#lobby"]',
    );
  });

  it('says so when no statement names the action at all', () => {
    expect(explainDenial(request('sns:Publish', 'arn:aws:sns:us-east-1:000000000000:news'), [named('WriterPolicy', allow('sqs:SendMessage', QUEUE))])).toBe(
      "no statement of the role's policies (WriterPolicy) names sns:Publish",
    );
  });
});

describe('Function: the authorizations of a call', () => {
  const read = (service: 'sqs' | 'dynamodb', operation: string, body: string) => {
    const call = readCall(service, 'POST', '/', { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${service === 'sqs' ? 'AmazonSQS.' : 'DynamoDB_20120810.'}${operation}` }, body);
    if ('refused' in call) throw new Error(call.refused);
    return call;
  };

  it('reads a call strictly: its operation from an exact target, its input from one JSON object, or refuses it', () => {
    const json = { 'content-type': 'application/x-amz-json-1.0' };
    expect(readCall('sqs', 'POST', '/', { ...json, 'x-amz-target': 'AmazonSQS.PurgeQueue' }, '{"QueueUrl":"q"}')).toStrictEqual({ operation: 'PurgeQueue', input: { QueueUrl: 'q' } });
    // A target without its prefix (which fauxqs ran, while the body was read as the query protocol), and the rest
    expect(readCall('sqs', 'POST', '/', { ...json, 'x-amz-target': 'PurgeQueue' }, '{"QueueUrl":"q","x":"&Action=ReceiveMessage"}')).toMatchObject({ code: 'UnknownOperationException' });
    expect(readCall('sqs', 'POST', '/', { ...json, 'x-amz-target': 'AmazonSQS.Frobnicate' }, '{}')).toMatchObject({ code: 'UnknownOperationException' });
    expect(readCall('sqs', 'POST', '/', { 'content-type': 'application/x-www-form-urlencoded' }, 'Action=PurgeQueue&QueueUrl=q')).toMatchObject({ refused: expect.stringMatching(/not SQS's query protocol/) });
    expect(readCall('sqs', 'GET', '/_fauxqs/queues', {}, '')).toMatchObject({ code: 'UnknownOperationException' });
    expect(readCall('dynamodb', 'POST', '/', { ...json, 'x-amz-target': 'DynamoDB_20120810.Scan' }, '[1]')).toMatchObject({ code: 'SerializationException' });
    expect(canonicalCall('sqs', { operation: 'PurgeQueue', input: { QueueUrl: 'q' } })).toStrictEqual({
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.PurgeQueue' },
      body: '{"QueueUrl":"q"}',
    });
  });

  it('authorizes SQS batch calls as their single forms, and calls naming no resource only where none is needed', () => {
    const batch = read('sqs', 'SendMessageBatch', JSON.stringify({ QueueUrl: 'http://127.0.0.1:9324/000000000000/inbox', Entries: [] }));
    expect(sqsAuthorizations(batch)).toStrictEqual([{ action: 'sqs:SendMessage', resource: QUEUE }]);
    expect(sqsAuthorizations(read('sqs', 'GetQueueUrl', '{"QueueName":"inbox"}'))).toStrictEqual([{ action: 'sqs:GetQueueUrl', resource: QUEUE }]);
    expect(determined('sqs', 'ListQueues', sqsAuthorizations(read('sqs', 'ListQueues', '{}')))).toBe(true);
    expect(determined('sqs', 'PurgeQueue', sqsAuthorizations(read('sqs', 'PurgeQueue', '{}')))).toBe(false);
  });

  it('authorizes DynamoDB transactions item by item, batches table by table, indexes as their own resource', () => {
    const authorizationsOf = (operation: string, body: string) => dynamodbAuthorizations(read('dynamodb', operation, body));
    const transaction = { TransactItems: [{ Put: { TableName: 'Audit' } }, { ConditionCheck: { TableName: 'State' } }, { Delete: { TableName: 'Audit' } }] };
    expect(authorizationsOf('TransactWriteItems', JSON.stringify(transaction))).toStrictEqual([
      { action: 'dynamodb:PutItem', resource: TABLE },
      { action: 'dynamodb:ConditionCheckItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/State' },
      { action: 'dynamodb:DeleteItem', resource: TABLE },
    ]);
    expect(authorizationsOf('BatchWriteItem', JSON.stringify({ RequestItems: { Audit: [], State: [] } })).map((entry) => entry.action)).toStrictEqual([
      'dynamodb:BatchWriteItem',
      'dynamodb:BatchWriteItem',
    ]);
    expect(authorizationsOf('Query', '{"TableName":"Audit","IndexName":"byDate"}')).toStrictEqual([{ action: 'dynamodb:Query', resource: `${TABLE}/index/byDate` }]);
    expect(authorizationsOf('ExecuteStatement', JSON.stringify({ Statement: 'UPDATE "Audit" SET a = 1 WHERE pk = ?' }))).toStrictEqual([{ action: 'dynamodb:PartiQLUpdate', resource: TABLE }]);
    expect(authorizationsOf('PutItem', JSON.stringify({ TableName: TABLE }))).toStrictEqual([{ action: 'dynamodb:PutItem', resource: TABLE }]);
  });
});

describe('Class: Authorizer', () => {
  const identity: FunctionIdentity = { functionName: 'writer', roleArn: ROLE, policies: [allow(['sqs:ReceiveMessage', 'sqs:DeleteMessage'], QUEUE)] };
  const authorizer = new Authorizer([identity, { functionName: 'imported', roleArn: 'arn:aws:iam::1:role/x', policies: [], notEnforced: 'its role is not in the template' }], new Map());

  it("checks only calls signed with a function's key, and says which functions it cannot check", () => {
    expect(authorizer.checks(functionAccessKey('writer'))).toBe(true);
    expect(authorizer.checks('local')).toBe(false);
    expect(authorizer.checks(functionAccessKey('imported'))).toBe(false);
    expect(authorizer.denial('local', [{ action: 'dynamodb:DeleteTable', resource: TABLE }])).toBeUndefined();
    expect(authorizer.notEnforced).toStrictEqual(['imported: its role is not in the template']);
  });

  it('refuses a mapping whose role may not read its queue, as CreateEventSourceMapping does', () => {
    expect(authorizer.mappingDenial('writer', QUEUE)).toBe(
      `User: arn:aws:sts::000000000000:assumed-role/Writer/writer is not authorized to perform: sqs:GetQueueAttributes on resource: ${QUEUE} because no identity-based policy allows the sqs:GetQueueAttributes action`,
    );
    authorizer.replace([{ ...identity, policies: [allow('sqs:*', QUEUE)] }], new Map());
    expect(authorizer.mappingDenial('writer', QUEUE)).toBeUndefined();
  });
});

describe('Function: evaluate, multivalued condition keys (dynamodb:LeadingKeys)', () => {
  const ownRecords = allow(['dynamodb:GetItem', 'dynamodb:UpdateItem'], TABLE, { Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['orders#*'] } } });
  const withKeys = (action: string, keys?: string[]) => request(action, TABLE, { 'aws:securetransport': 'true', ...(keys ? { 'dynamodb:leadingkeys': keys } : {}) });

  it('allows only when every partition key the call touches matches (ForAllValues)', () => {
    expect(evaluate(withKeys('dynamodb:UpdateItem', ['orders#1']), [ownRecords]).allowed).toBe(true);
    expect(evaluate(withKeys('dynamodb:UpdateItem', ['presence#1']), [ownRecords]).allowed).toBe(false);
    expect(evaluate(withKeys('dynamodb:GetItem', ['orders#1', 'presence#1']), [ownRecords]).allowed).toBe(false);
    expect(evaluate(withKeys('dynamodb:GetItem', ['ordersAndMore#1']), [ownRecords]).allowed).toBe(false);
  });

  it('holds ForAllValues, and fails ForAnyValue, on a call that names no partition key, as AWS does', () => {
    expect(evaluate(withKeys('dynamodb:GetItem'), [ownRecords]).allowed).toBe(true);
    const any = allow('dynamodb:GetItem', TABLE, { Condition: { 'ForAnyValue:StringEquals': { 'dynamodb:LeadingKeys': ['orders#1'] } } });
    expect(evaluate(withKeys('dynamodb:GetItem'), [any]).allowed).toBe(false);
    expect(evaluate(withKeys('dynamodb:GetItem', ['x', 'orders#1']), [any]).allowed).toBe(true);
    expect(unsupportedConditions(ownRecords)).toStrictEqual([]);
  });
});

describe('Function: dynamodbAuthorizations, the partition keys a call touches', () => {
  const partitionKeyOf = (table: string) => (table === 'Audit' ? 'pk' : undefined);
  const leading = (operation: string, input: object) => dynamodbAuthorizations({ operation, input: input as Record<string, unknown> }, partitionKeyOf).map((check) => check.context?.['dynamodb:leadingkeys']);

  it('reads them from keys, items, queries, batches and transactions, and from none for a Scan', () => {
    expect(leading('GetItem', { TableName: 'Audit', Key: { pk: { S: 'orders#1' } } })).toStrictEqual([['orders#1']]);
    expect(leading('PutItem', { TableName: 'Audit', Item: { pk: { S: 'orders#2' }, n: { N: '1' } } })).toStrictEqual([['orders#2']]);
    expect(leading('Query', { TableName: 'Audit', KeyConditionExpression: '#k = :v', ExpressionAttributeNames: { '#k': 'pk' }, ExpressionAttributeValues: { ':v': { S: 'orders#3' } } })).toStrictEqual([['orders#3']]);
    expect(leading('Query', { TableName: 'Audit', KeyConditionExpression: ':v = pk AND sk > :s', ExpressionAttributeValues: { ':v': { S: 'orders#4' }, ':s': { S: 'a' } } })).toStrictEqual([['orders#4']]);
    expect(leading('BatchWriteItem', { RequestItems: { Audit: [{ PutRequest: { Item: { pk: { S: 'a' } } } }, { DeleteRequest: { Key: { pk: { S: 'b' } } } }] } })).toStrictEqual([['a', 'b']]);
    expect(leading('TransactWriteItems', { TransactItems: [{ Update: { TableName: 'Audit', Key: { pk: { S: 'a' } } } }, { Put: { TableName: 'Other', Item: { pk: { S: 'b' } } } }] })).toStrictEqual([['a'], undefined]);
    expect(leading('Scan', { TableName: 'Audit' })).toStrictEqual([undefined]);
  });
});
