/**
 * What the local cloud's calls would be billed as in AWS: SQS requests by operation, DynamoDB read and write request
 * units, Lambda invocations and the milliseconds their handlers and INIT ran. Counted at the gateways (every call to
 * SQS and DynamoDB, from anyone), by the event source mappings (Lambda's own receives and deletes) and by the functions.
 * `bench:cost` turns it into money.
 */

export interface Usage {
  /** SQS API requests by operation (a batch of ten is one request, as SQS bills it). */
  readonly sqsRequests: Record<string, number>;
  /**
   * SNS publishes, as SNS bills them: each message of a PublishBatch is one, and each 64 KiB of a message another.
   * Deliveries to SQS subscriptions are not billed, and not counted.
   */
  readonly snsPublishes: number;
  /** DynamoDB calls and the request units they were billed, by operation. */
  readonly dynamodb: Record<string, { readonly calls: number; readonly readUnits: number; readonly writeUnits: number }>;
  /**
   * Lambda invocations and billed milliseconds (each invocation rounded up to 1 ms), by function. An invocation cut
   * off by its timeout or a crash reports no time, and is not counted.
   */
  readonly lambda: Record<string, { readonly invocations: number; readonly billedMs: number; readonly initMs: number; readonly memorySizeMb: number }>;
}

/** SNS bills a publish per 64 KiB chunk of its payload. */
const SNS_BILLED_CHUNK_BYTES = 64 * 1024;

export class UsageMeter {
  #sqs: Record<string, number> = {};
  #snsPublishes = 0;
  #dynamodb: Record<string, { calls: number; readUnits: number; writeUnits: number }> = {};
  #lambda: Record<string, { invocations: number; billedMs: number; initMs: number; memorySizeMb: number }> = {};

  public sqsRequest(operation: string): void {
    this.#sqs[operation] = (this.#sqs[operation] ?? 0) + 1;
  }

  /** A Publish or PublishBatch, with its messages' sizes in bytes (body and attributes). */
  public snsPublish(messageBytes: readonly number[]): void {
    this.#snsPublishes += messageBytes.reduce((total, bytes) => total + Math.max(1, Math.ceil(bytes / SNS_BILLED_CHUNK_BYTES)), 0);
  }

  /**
   * A DynamoDB call and its answer: DynamoDB bills no units for a call that fails, except one whose condition did not
   * hold, and prices reads by the items they return (a key read that finds no item still costs one read).
   */
  public dynamodbCall(operation: string, input: Record<string, unknown>, answer: { readonly status: number; readonly body: Record<string, unknown> }): void {
    const entry = (this.#dynamodb[operation] ??= { calls: 0, readUnits: 0, writeUnits: 0 });
    entry.calls += 1;
    const billed = answer.status < 300 || /ConditionalCheckFailed|TransactionCanceled/.test(String(answer.body.__type ?? ''));
    if (!billed) return;
    const { read, write } = capacityUnits(operation, input, answer.status < 300 ? answer.body : {});
    entry.readUnits += read;
    entry.writeUnits += write;
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
      snsPublishes: this.#snsPublishes,
      dynamodb: structuredClone(this.#dynamodb),
      lambda: structuredClone(this.#lambda),
    };
  }

  public reset(): void {
    this.#sqs = {};
    this.#snsPublishes = 0;
    this.#dynamodb = {};
    this.#lambda = {};
  }
}

type AttributeValue = Readonly<Record<string, unknown>>;
type Item = Readonly<Record<string, AttributeValue>>;

/** An attribute value's size as DynamoDB counts it: the bytes of its data, and a little for numbers and collections. */
function valueBytes(value: AttributeValue): number {
  const [type, data] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(data));
    case 'N':
      return Math.ceil(String(data).replace(/^-/, '').length / 2) + 1;
    case 'B':
      return Buffer.from(String(data), 'base64').length;
    case 'SS':
    case 'NS':
    case 'BS':
      return (data as string[]).reduce((sum, member) => sum + valueBytes({ [type.slice(0, 1)]: member }), 0);
    case 'L':
      return 3 + (data as AttributeValue[]).reduce((sum, member) => sum + 1 + valueBytes(member), 0);
    case 'M':
      return 3 + itemBytes(data as Item);
    default:
      return 1;
  }
}

/** An item's size as DynamoDB bills it: each attribute's name and value, in bytes. */
function itemBytes(item: Item | undefined): number {
  return Object.entries(item ?? {}).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value), 0);
}

/** Units of `per` KiB, at least one. */
const units = (bytes: number, per: number) => Math.max(1, Math.ceil(bytes / (per * 1024)));

/**
 * On-demand request units of one successful call, as DynamoDB's pricing page defines them: a write is 1 unit per KiB
 * of item; a strongly consistent read 1 per 4 KiB of what it returns (a query's or scan's items together), an
 * eventually consistent one half that; in a transaction each item costs twice. An update or delete is priced as an
 * item under 1 KiB: the call does not show the item. Writes to secondary indexes are not counted.
 */
export function capacityUnits(operation: string, input: Record<string, unknown>, answer: Record<string, unknown> = {}): { read: number; write: number } {
  const consistency = (consistent: unknown) => (consistent === true ? 1 : 0.5);
  switch (operation) {
    case 'PutItem':
      return { read: 0, write: units(itemBytes(input.Item as Item), 1) };
    case 'UpdateItem':
    case 'DeleteItem':
      return { read: 0, write: 1 };
    case 'GetItem':
      return { read: consistency(input.ConsistentRead) * units(itemBytes(answer.Item as Item), 4), write: 0 };
    case 'Query':
    case 'Scan': {
      const bytes = ((answer.Items as Item[] | undefined) ?? []).reduce((sum, item) => sum + itemBytes(item), 0);
      return { read: consistency(input.ConsistentRead) * units(bytes, 4), write: 0 };
    }
    case 'BatchWriteItem': {
      const requests = Object.values((input.RequestItems as Record<string, { PutRequest?: { Item: Item } }[]> | undefined) ?? {}).flat();
      return { read: 0, write: requests.reduce((sum, request) => sum + (request.PutRequest ? units(itemBytes(request.PutRequest.Item), 1) : 1), 0) };
    }
    case 'BatchGetItem': {
      // Each key is priced as its own GetItem: a key with no item still costs a read, as GetItem's does.
      const requested = Object.entries((input.RequestItems as Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }> | undefined) ?? {});
      const responses = (answer.Responses as Record<string, Item[]> | undefined) ?? {};
      const unprocessed = (answer.UnprocessedKeys as Record<string, { Keys?: unknown[] }> | undefined) ?? {};
      const read = requested.reduce((sum, [table, { Keys = [], ConsistentRead }]) => {
        const found = responses[table] ?? [];
        const missing = Math.max(0, Keys.length - found.length - (unprocessed[table]?.Keys?.length ?? 0));
        const bytes = [...found.map(itemBytes), ...Array.from({ length: missing }, () => 0)];
        return sum + bytes.reduce((total, size) => total + consistency(ConsistentRead) * units(size, 4), 0);
      }, 0);
      return { read, write: 0 };
    }
    case 'TransactWriteItems': {
      const items = (input.TransactItems as Record<string, { Item?: Item }>[] | undefined) ?? [];
      return { read: 0, write: items.reduce((sum, item) => sum + 2 * (item.Put ? units(itemBytes(item.Put.Item), 1) : 1), 0) };
    }
    case 'TransactGetItems': {
      const requested = ((input.TransactItems as unknown[] | undefined) ?? []).length;
      const returned = (answer.Responses as { Item?: Item }[] | undefined) ?? Array.from({ length: requested }, (): { Item?: Item } => ({}));
      return { read: returned.reduce((sum, response) => sum + 2 * units(itemBytes(response.Item), 4), 0), write: 0 };
    }
    default:
      return { read: 0, write: 0 };
  }
}
