import { describe, expect, it } from 'vitest';
import { capacityUnits, UsageMeter } from '../../local/meter.ts';

describe('Function: capacityUnits (DynamoDB on-demand request units of a successful call)', () => {
  const small = { pk: { S: 'a' } };
  // 4 + 2500 + 3 bytes of names and values: three units of 1 KiB to write, one of 4 KiB to read.
  const large = { pk: { S: 'a' }, blob: { S: 'x'.repeat(2500) } };
  // 5,000 bytes of binary, 6,668 as base64 on the wire: DynamoDB counts the bytes, two units of 4 KiB.
  const binary = { pk: { S: 'a' }, data: { B: Buffer.alloc(5000).toString('base64') } };

  it.each([
    ['PutItem', { Item: small }, {}, { read: 0, write: 1 }],
    ['PutItem', { Item: large }, {}, { read: 0, write: 3 }],
    ['UpdateItem', { Key: small }, {}, { read: 0, write: 1 }],
    ['DeleteItem', { Key: small }, {}, { read: 0, write: 1 }],
    ['GetItem', { Key: small }, { Item: small }, { read: 0.5, write: 0 }],
    ['GetItem', { Key: small, ConsistentRead: true }, { Item: binary }, { read: 2, write: 0 }],
    ['GetItem', { Key: small }, {}, { read: 0.5, write: 0 }],
    ['Query', { TableName: 't', ConsistentRead: true }, { Items: [large, large] }, { read: 2, write: 0 }],
    ['Scan', { TableName: 't' }, { Items: [] }, { read: 0.5, write: 0 }],
    ['TransactWriteItems', { TransactItems: [{ Put: { Item: small } }, { Update: { Key: small } }] }, {}, { read: 0, write: 4 }],
    ['TransactGetItems', { TransactItems: [{ Get: {} }, { Get: {} }] }, { Responses: [{ Item: small }, { Item: binary }] }, { read: 6, write: 0 }],
    ['BatchWriteItem', { RequestItems: { t: [{ PutRequest: { Item: large } }, { DeleteRequest: { Key: small } }] } }, {}, { read: 0, write: 4 }],
    ['BatchGetItem', { RequestItems: { t: { Keys: [small, small], ConsistentRead: true }, u: { Keys: [small] } } }, { Responses: { t: [small, large], u: [small] } }, { read: 2.5, write: 0 }],
    // Keys with no item cost a read each, as a GetItem of one does; keys left unprocessed cost nothing.
    ['BatchGetItem', { RequestItems: { t: { Keys: [small, small, small], ConsistentRead: true } } }, { Responses: { t: [] }, UnprocessedKeys: { t: { Keys: [small] } } }, { read: 2, write: 0 }],
  ])('prices %s %j answered %j as %j', (operation, input, answer, expected) => {
    expect(capacityUnits(operation, input, answer)).toStrictEqual(expected);
  });
});

describe('Class: UsageMeter', () => {
  it('adds up requests, units and billed milliseconds (each invocation rounded up to 1 ms), and starts over on reset', () => {
    const meter = new UsageMeter();
    meter.sqsRequest('SendMessageBatch');
    meter.sqsRequest('SendMessageBatch');
    meter.dynamodbCall('TransactWriteItems', { TransactItems: [{ Put: { Item: {} } }] }, { status: 200, body: {} });
    meter.dynamodbCall('Query', { ConsistentRead: true }, { status: 200, body: { Items: [{ pk: { S: 'a' } }] } });
    meter.invocation('fn', 512, 0.2, 0);
    meter.invocation('fn', 512, 10.1, 70.2);
    expect(meter.snapshot()).toStrictEqual({
      sqsRequests: { SendMessageBatch: 2 },
      snsPublishes: 0,
      dynamodb: { TransactWriteItems: { calls: 1, readUnits: 0, writeUnits: 2 }, Query: { calls: 1, readUnits: 1, writeUnits: 0 } },
      lambda: { fn: { invocations: 2, billedMs: 12, initMs: 71, memorySizeMb: 512 } },
    });
    meter.reset();
    expect(meter.snapshot()).toStrictEqual({ sqsRequests: {}, snsPublishes: 0, dynamodb: {}, lambda: {} });
  });

  it('bills a failed DynamoDB call nothing, unless its condition failed', () => {
    const meter = new UsageMeter();
    meter.dynamodbCall('PutItem', { Item: {} }, { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException' } });
    meter.dynamodbCall('PutItem', { Item: {} }, { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException' } });
    expect(meter.snapshot().dynamodb).toStrictEqual({ PutItem: { calls: 2, readUnits: 0, writeUnits: 1 } });
  });
});

describe('Function: UsageMeter.snsPublish (SNS bills each published message by 64 KiB chunk)', () => {
  it('counts a message per 64 KiB begun, each message of a batch apart', () => {
    const meter = new UsageMeter();
    meter.snsPublish([10]);
    meter.snsPublish([65_536, 65_537, 200_000]);
    expect(meter.snapshot().snsPublishes).toBe(1 + 1 + 2 + 4);
    meter.reset();
    expect(meter.snapshot().snsPublishes).toBe(0);
  });
});
