/**
 * What the local cloud's calls would be billed as in AWS: SQS requests by operation, DynamoDB read and write request
 * units, Lambda invocations and the milliseconds their handlers and INIT ran. Counted at the gateways (every call to
 * SQS and DynamoDB, from anyone), by the event source mappings (Lambda's own receives and deletes) and by the functions.
 * `bench:cost` turns it into money.
 */

export interface Usage {
  /** SQS API requests by operation (a batch of ten is one request, as SQS bills it). */
  readonly sqsRequests: Record<string, number>;
  readonly dynamodbWriteUnits: number;
  readonly dynamodbReadUnits: number;
  /** DynamoDB calls by operation. */
  readonly dynamodbCalls: Record<string, number>;
  /** Lambda invocations and billed milliseconds (each invocation rounded up to 1 ms), by function. */
  readonly lambda: Record<string, { readonly invocations: number; readonly billedMs: number; readonly initMs: number; readonly memorySizeMb: number }>;
}

export class UsageMeter {
  #sqs: Record<string, number> = {};
  #dynamodb: Record<string, number> = {};
  #writeUnits = 0;
  #readUnits = 0;
  #lambda: Record<string, { invocations: number; billedMs: number; initMs: number; memorySizeMb: number }> = {};

  public sqsRequest(operation: string): void {
    this.#sqs[operation] = (this.#sqs[operation] ?? 0) + 1;
  }

  public dynamodbCall(operation: string, input: Record<string, unknown>): void {
    this.#dynamodb[operation] = (this.#dynamodb[operation] ?? 0) + 1;
    const { read, write } = capacityUnits(operation, input);
    this.#readUnits += read;
    this.#writeUnits += write;
  }

  /**
   * A query's or a scan's reads, known only from its answer: the items' size rounded up to 4 KiB, at least one read,
   * halved when eventually consistent (the items returned stand for those read: a filter hides what it drops).
   */
  public dynamodbItemsRead(items: unknown, consistent: boolean): void {
    this.#readUnits += (consistent ? 1 : 0.5) * kib(items, 4);
  }

  public invocation(functionName: string, memorySizeMb: number, durationMs: number, initMs: number): void {
    const entry = (this.#lambda[functionName] ??= { invocations: 0, billedMs: 0, initMs: 0, memorySizeMb });
    entry.invocations += 1;
    entry.billedMs += Math.max(1, Math.ceil(durationMs));
    entry.initMs += Math.ceil(initMs);
  }

  /** What was counted since the start or the last reset. */
  public snapshot(): Usage {
    return {
      sqsRequests: { ...this.#sqs },
      dynamodbWriteUnits: this.#writeUnits,
      dynamodbReadUnits: this.#readUnits,
      dynamodbCalls: { ...this.#dynamodb },
      lambda: structuredClone(this.#lambda),
    };
  }

  public reset(): void {
    this.#sqs = {};
    this.#dynamodb = {};
    this.#writeUnits = 0;
    this.#readUnits = 0;
    this.#lambda = {};
  }
}

/** DynamoDB bills writes per KiB and reads per 4 KiB of item; the item's size as its JSON is close enough here. */
const kib = (value: unknown, per: number) => Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(value ?? {})) / (per * 1024)));

/**
 * On-demand request units of one call, as DynamoDB's pricing page defines them: a write is 1 unit per KiB of item, a
 * strongly consistent read 1 per 4 KiB, an eventually consistent one half that; in a transaction each item costs
 * twice. An update or delete is priced on its key, as if the item were under 1 KiB: the request does not show the
 * item. Queries and scans are priced by what they return (dynamodbItemsRead), which the request does not show: 0 here.
 */
export function capacityUnits(operation: string, input: Record<string, unknown>): { read: number; write: number } {
  const reads = (consistent: unknown, item: unknown) => (consistent === true ? 1 : 0.5) * kib(item, 4);
  switch (operation) {
    case 'PutItem':
      return { read: 0, write: kib(input.Item, 1) };
    case 'UpdateItem':
    case 'DeleteItem':
      return { read: 0, write: 1 };
    case 'GetItem':
      return { read: reads(input.ConsistentRead, input.Key), write: 0 };
    case 'BatchWriteItem': {
      const requests = Object.values((input.RequestItems as Record<string, { PutRequest?: { Item: unknown } }[]> | undefined) ?? {}).flat();
      return { read: 0, write: requests.reduce((sum, request) => sum + (request.PutRequest ? kib(request.PutRequest.Item, 1) : 1), 0) };
    }
    case 'BatchGetItem': {
      const tables = Object.values((input.RequestItems as Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }> | undefined) ?? {});
      return { read: tables.reduce((sum, table) => sum + (table.Keys ?? []).length * (table.ConsistentRead ? 1 : 0.5), 0), write: 0 };
    }
    case 'TransactWriteItems': {
      const items = (input.TransactItems as Record<string, { Item?: unknown }>[] | undefined) ?? [];
      return { read: 0, write: items.reduce((sum, item) => sum + 2 * (item.Put ? kib(item.Put.Item, 1) : 1), 0) };
    }
    case 'TransactGetItems':
      return { read: 2 * ((input.TransactItems as unknown[] | undefined) ?? []).length, write: 0 };
    default:
      return { read: 0, write: 0 };
  }
}
