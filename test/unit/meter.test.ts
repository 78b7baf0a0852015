import { describe, expect, it } from 'vitest';
import { capacityUnits, UsageMeter } from '../../local/meter.ts';

describe('Function: capacityUnits (DynamoDB on-demand request units of a call)', () => {
  const small = { pk: { S: 'a' } };
  const large = { pk: { S: 'a' }, blob: { S: 'x'.repeat(2500) } };

  it.each([
    ['PutItem', { Item: small }, { read: 0, write: 1 }],
    ['PutItem', { Item: large }, { read: 0, write: 3 }],
    ['UpdateItem', { Key: small }, { read: 0, write: 1 }],
    ['DeleteItem', { Key: small }, { read: 0, write: 1 }],
    ['GetItem', { Key: small }, { read: 0.5, write: 0 }],
    ['GetItem', { Key: small, ConsistentRead: true }, { read: 1, write: 0 }],
    ['TransactWriteItems', { TransactItems: [{ Put: { Item: small } }, { Update: { Key: small } }] }, { read: 0, write: 4 }],
    ['TransactGetItems', { TransactItems: [{ Get: {} }, { Get: {} }] }, { read: 4, write: 0 }],
    ['BatchWriteItem', { RequestItems: { t: [{ PutRequest: { Item: large } }, { DeleteRequest: { Key: small } }] } }, { read: 0, write: 4 }],
    ['BatchGetItem', { RequestItems: { t: { Keys: [small, small], ConsistentRead: true }, u: { Keys: [small] } } }, { read: 2.5, write: 0 }],
    ['Query', { TableName: 't' }, { read: 0, write: 0 }],
  ])('prices %s %j as %j', (operation, input, units) => {
    expect(capacityUnits(operation, input)).toStrictEqual(units);
  });
});

describe('Class: UsageMeter', () => {
  it('adds up requests, units and billed milliseconds (each invocation rounded up to 1 ms), and starts over on reset', () => {
    const meter = new UsageMeter();
    meter.sqsRequest('SendMessageBatch');
    meter.sqsRequest('SendMessageBatch');
    meter.dynamodbCall('TransactWriteItems', { TransactItems: [{ Put: { Item: {} } }] });
    meter.dynamodbItemsRead([{ pk: 'a' }], true);
    meter.dynamodbItemsRead([], false);
    meter.invocation('fn', 512, 0.2, 0);
    meter.invocation('fn', 512, 10.1, 70.2);
    expect(meter.snapshot()).toStrictEqual({
      sqsRequests: { SendMessageBatch: 2 },
      dynamodbWriteUnits: 2,
      dynamodbReadUnits: 1.5,
      dynamodbCalls: { TransactWriteItems: 1 },
      lambda: { fn: { invocations: 2, billedMs: 12, initMs: 71, memorySizeMb: 512 } },
    });
    meter.reset();
    expect(meter.snapshot()).toStrictEqual({ sqsRequests: {}, dynamodbWriteUnits: 0, dynamodbReadUnits: 0, dynamodbCalls: {}, lambda: {} });
  });
});
