import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  LifecycleKeys,
  LIFECYCLE_RETENTION_SECONDS,
  type LifecycleEvent,
  type LifecycleRecord,
  type LifecycleStatus,
  type OnwardMessage,
} from '../../lib/policy/index.ts';
import type { TransactWrite } from './types.ts';

/** Which message on which channel a lifecycle record is about. */
export interface MessageIdentity {
  readonly correlationId: string;
  readonly channel: string;
  readonly messageId: string;
  /** The SQS receive count of this delivery. */
  readonly attempt: number;
  /** The flow it belongs to: the correlation id of the flow's first message. */
  readonly flowId?: string;
  /** The correlation id of the message whose handler sent this one on. */
  readonly causationId?: string;
  /** When SQS accepted it (SentTimestamp), epoch milliseconds. */
  readonly sentAt?: number;
}

export type CommitResult = 'committed' | 'duplicate';
export type ClaimResult =
  | { readonly outcome: 'claimed'; readonly token: string }
  | { readonly outcome: 'held'; readonly leaseUntil: number }
  /** Applied by an earlier delivery; `outboxPending` when its onward messages may not all have been sent. */
  | { readonly outcome: 'duplicate'; readonly outboxPending: boolean }
  /** Its effect was applied and its result refused (see GuaranteedConsumer): never run again. Which delivery did it, and why. */
  | { readonly outcome: 'effect-applied'; readonly messageId: string; readonly reason: string };

/** How a failed or dead-lettered attempt is written down. */
export interface AttemptRecord {
  readonly reason: string;
  readonly now: number;
  /** 1 when this attempt ran the handler and no claim counted it already. */
  readonly increment: 0 | 1;
  /** The lease this delivery holds, if any: the write releases it, and happens only while this delivery still owns it. */
  readonly leaseToken?: string;
  /** The history read before the write; when it is long, the write keeps only its latest events. */
  readonly priorHistory?: readonly LifecycleEvent[];
  /** The attempt applied an outside effect before it failed: no delivery may run the handler again. */
  readonly effectApplied?: true;
}

/** 'superseded': the write's condition failed, because another delivery applied the message, owns its lease now, or dead-lettered this very SQS message. */
export type RecordResult = 'recorded' | 'superseded';

/**
 * The most events a lifecycle record keeps. Each redrive of a failing message adds a round of events; without a
 * bound the item would grow to DynamoDB's 400 KB limit and every later write to it would fail.
 */
export const MAX_HISTORY_EVENTS = 25;
/** A reason in the history is cut to this length; the latest reason is kept whole in `reason`. */
const HISTORY_REASON_CHARS = 300;
/** Why a lease was given back: the attempt never reached its handler. */
const RELEASED_UNRUN = 'cut off at the batch deadline before its handler ran; not counted as an attempt';

/**
 * The lifecycle record of each message, which is also its idempotency record. Powertools' idempotency utility
 * keeps a record of its own beside the effect; here the one item answers both "has this been applied?" and
 * "what happened to my message?", and it is written in the same transaction as the effect, so the two can never
 * disagree and the happy path costs one round trip.
 */
export class LifecycleStore {
  readonly #dynamo: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(dynamo: DynamoDBDocumentClient, tableName: string) {
    this.#dynamo = dynamo;
    this.#tableName = tableName;
  }

  /**
   * Commits the handler's writes with the lifecycle record, unless the message was already applied. Its onward
   * messages go into the record with them (the outbox), to be sent once the commit stands.
   */
  public async commit(id: MessageIdentity, writes: readonly TransactWrite[], reply: unknown, now: number, onward: readonly OnwardMessage[] = []): Promise<CommitResult> {
    const update = this.#succeeded(id, reply, now, { countAttempt: true, onward });
    const written = await this.#writeWith({ ...update, ConditionExpression: 'attribute_not_exists(#pk) OR #status <> :succeeded' }, writes, id, now);
    return written ? 'committed' : 'duplicate';
  }

  /**
   * Claims a message whose effect is outside DynamoDB: succeeds when no delivery has applied it and no live
   * lease holds it. A lease left by a crashed attempt expires at leaseUntil and the next delivery takes over.
   */
  public async claim(id: MessageIdentity, leaseSeconds: number, now: number): Promise<ClaimResult> {
    const token = randomUUID();
    const event: LifecycleEvent = { at: now, status: 'in-progress', attempt: id.attempt };
    try {
      await this.#dynamo.send(
        new UpdateCommand(usedOnly({
          ...this.#key(id),
          UpdateExpression: `${this.#identitySet(id)}, #status = :inProgress, #leaseUntil = :leaseUntil, #leaseToken = :token, #attempts = if_not_exists(#attempts, :zero) + :one, #history = list_append(if_not_exists(#history, :empty), :event)`,
          ConditionExpression:
            'attribute_not_exists(#pk) OR (#status <> :succeeded AND attribute_not_exists(#effectApplied) AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :now))',
          ExpressionAttributeNames: { ...NAMES, '#pk': LifecycleKeys.partitionKey },
          ExpressionAttributeValues: {
            ...this.#identityValues(id, now),
            ':inProgress': 'in-progress' satisfies LifecycleStatus,
            ':succeeded': 'succeeded' satisfies LifecycleStatus,
            ':leaseUntil': now + leaseSeconds * 1000,
            ':token': token,
            ':now': now,
            ':zero': 0,
            ':one': 1,
            ':empty': [],
            ':event': [event],
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        })),
      );
      return { outcome: 'claimed', token };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const old = error.Item as RawRecord | undefined;
        if (old?.status?.S === 'succeeded') return { outcome: 'duplicate', outboxPending: old.outbox !== undefined };
        if (old?.effectApplied?.BOOL) return { outcome: 'effect-applied', messageId: old.messageId?.S ?? '', reason: old.reason?.S ?? '' };
        return { outcome: 'held', leaseUntil: Number(old?.leaseUntil?.N ?? now) };
      }
      throw error;
    }
  }

  /**
   * Gives back a lease whose handler never ran (its delivery was cut off at the batch deadline right after the claim):
   * the next delivery takes the message at once instead of waiting out the lease, and the claim's attempt is not
   * counted. Only while the lease is still this delivery's, so a late call (a frozen instance thawed) changes nothing.
   */
  public async release(id: MessageIdentity, token: string, now: number): Promise<void> {
    const event: LifecycleEvent = { at: now, status: 'retrying', attempt: id.attempt, reason: RELEASED_UNRUN };
    try {
      await this.#dynamo.send(
        new UpdateCommand(usedOnly({
          ...this.#key(id),
          UpdateExpression: 'SET #status = :retrying, #reason = :reason, #attempts = #attempts - :one, #history = list_append(#history, :event) REMOVE #leaseUntil, #leaseToken',
          ConditionExpression: '#leaseToken = :token',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':retrying': 'retrying' satisfies LifecycleStatus, ':reason': RELEASED_UNRUN, ':one': 1, ':event': [event], ':token': token },
        })),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Completes a claimed message with its writes; false when the lease was lost to another delivery meanwhile. */
  public async complete(id: MessageIdentity, token: string, writes: readonly TransactWrite[], reply: unknown, now: number, onward: readonly OnwardMessage[] = []): Promise<boolean> {
    const update = this.#succeeded(id, reply, now, { countAttempt: false, onward });
    return this.#writeWith(
      {
        ...update,
        UpdateExpression: `${update.UpdateExpression} REMOVE #leaseUntil, #leaseToken`,
        ConditionExpression: '#leaseToken = :token',
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':token': token },
      },
      writes,
      id,
      now,
    );
  }

  /** Empties the outbox once every onward message was sent, and says so in the history. */
  public async markSentOn(id: MessageIdentity, now: number): Promise<void> {
    const event: LifecycleEvent = { at: now, status: 'sent-on', attempt: id.attempt };
    try {
      await this.#dynamo.send(
        new UpdateCommand(usedOnly({
          ...this.#key(id),
          UpdateExpression: 'SET #history = list_append(if_not_exists(#history, :empty), :event) REMOVE #outbox',
          ConditionExpression: 'attribute_exists(#outbox)',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':empty': [], ':event': [event] },
        })),
      );
    } catch (error) {
      // Another delivery emptied it first: its messages went out under the same ids.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Records a failed attempt (and releases this delivery's lease) so `status` shows why the message is being retried. */
  public async recordFailure(id: MessageIdentity, attempt: AttemptRecord): Promise<RecordResult> {
    return this.#recordUnlessSuperseded(id, 'retrying', attempt);
  }

  /** Records that the runtime moved the message to the DLQ, and why: the record's terminal state until a redrive. */
  public async recordDeadLettered(id: MessageIdentity, attempt: AttemptRecord): Promise<RecordResult> {
    return this.#recordUnlessSuperseded(id, 'dead-lettered', attempt);
  }

  public async get(correlationId: string, channel: string): Promise<LifecycleRecord | undefined> {
    const { Item } = await this.#dynamo.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { [LifecycleKeys.partitionKey]: LifecycleKeys.of(channel, correlationId) },
        ConsistentRead: true,
      }),
    );
    return Item as LifecycleRecord | undefined;
  }

  /**
   * Writes a failure or a dead-lettering unless the message already succeeded, and, for a delivery holding a lease,
   * only while it still owns that lease: a delivery whose lease expired and was taken over must not release the
   * new holder's lease, or a third delivery would run the outside effect again.
   */
  async #recordUnlessSuperseded(id: MessageIdentity, status: LifecycleStatus, attempt: AttemptRecord): Promise<RecordResult> {
    const event: LifecycleEvent = { at: attempt.now, status, attempt: id.attempt, reason: attempt.reason.slice(0, HISTORY_REASON_CHARS) };
    const history = attempt.priorHistory ?? [];
    const trimmed = history.length >= MAX_HISTORY_EVENTS;
    const ownership = attempt.leaseToken ? ' AND #leaseToken = :token' : '';
    // A duplicate delivery of the very SQS message another delivery dead-lettered must not reopen the terminal record;
    // a redriven copy has a new SQS message id. (A redrive that kept the id would be retried all the same, unrecorded,
    // and the receive backstop would still end it with a reason.)
    const stale = status === 'retrying' ? ' AND NOT (#status = :deadLettered AND #messageId = :messageId)' : '';
    try {
      await this.#dynamo.send(
        new UpdateCommand(usedOnly({
          ...this.#key(id),
          UpdateExpression: `${this.#identitySet(id)}, #status = :status, #reason = :reason, #attempts = if_not_exists(#attempts, :zero) + :increment, ${
            status === 'dead-lettered' ? '#attemptsBeforeRedrive = if_not_exists(#attempts, :zero) + :increment, ' : ''
          }${attempt.effectApplied ? '#effectApplied = :true, ' : ''}${
            trimmed ? '#history = :latest' : '#history = list_append(if_not_exists(#history, :empty), :event)'
          }${attempt.leaseToken ? ' REMOVE #leaseUntil, #leaseToken' : ''}`,
          // A late failure report must not overwrite the record of a delivery that already succeeded.
          ConditionExpression: `(attribute_not_exists(#pk) OR #status <> :succeeded)${ownership}${stale}`,
          ExpressionAttributeNames: { ...NAMES, '#pk': LifecycleKeys.partitionKey },
          ExpressionAttributeValues: {
            ...this.#identityValues(id, attempt.now),
            ':status': status,
            ':succeeded': 'succeeded' satisfies LifecycleStatus,
            ':reason': attempt.reason,
            ':zero': 0,
            ':increment': attempt.increment,
            ':empty': [],
            ':event': [event],
            ':latest': [...history.slice(-(MAX_HISTORY_EVENTS - 1)), event],
            ':token': attempt.leaseToken,
            ':deadLettered': 'dead-lettered' satisfies LifecycleStatus,
            ':true': true,
          },
        })),
      );
      return 'recorded';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'superseded';
      throw error;
    }
  }

  /**
   * Writes the success record (`update`, with its condition) and the handler's writes atomically; false when the
   * record's condition failed. With no writes of the handler's, the record goes alone as an UpdateItem: a single item
   * is written atomically anyway, and a transaction of one item costs twice the write units and a second phase.
   */
  async #writeWith(update: RecordUpdate, writes: readonly TransactWrite[], id: MessageIdentity, now: number): Promise<boolean> {
    if (writes.length === 0) {
      try {
        await this.#dynamo.send(new UpdateCommand(usedOnly({ ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
        return true;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // The SDK retries an UpdateItem whose answer was lost, and the retry fails on the success the first one wrote:
        // that success is this delivery's own when it carries this delivery's attempt and time.
        return isSuccessOf(error.Item as RawRecord | undefined, id, now);
      }
    }
    try {
      await this.#dynamo.send(
        new TransactWriteCommand({
          // No ClientRequestToken here: the SDK fills one in and keeps it across its retries, so a retry after an
          // answer that never arrived gets the first commit's success, not a failed condition (a test holds it to that).
          TransactItems: [{ Update: usedOnly(update) }, ...writes],
        }),
      );
      return true;
    } catch (error) {
      if (lifecycleConditionFailed(error)) return false;
      throw error;
    }
  }

  #succeeded(id: MessageIdentity, reply: unknown, now: number, options: { countAttempt: boolean; onward: readonly OnwardMessage[] }) {
    const event: LifecycleEvent = { at: now, status: 'succeeded', attempt: id.attempt };
    const outbox = options.onward.length > 0 ? ', #outbox = :outbox, #onward = :onward' : '';
    return {
      ...this.#key(id),
      UpdateExpression: `${this.#identitySet(id)}, #status = :succeeded, #completedAt = :now, #reply = :reply, #attempts = if_not_exists(#attempts, :zero) + :increment, #history = list_append(if_not_exists(#history, :empty), :event)${outbox}`,
      ExpressionAttributeNames: { ...NAMES, '#pk': LifecycleKeys.partitionKey },
      ExpressionAttributeValues: {
        ...this.#identityValues(id, now),
        ':succeeded': 'succeeded' satisfies LifecycleStatus,
        ':now': now,
        ':reply': reply ?? null,
        ':zero': 0,
        ':increment': options.countAttempt ? 1 : 0,
        ':empty': [],
        ':event': [event],
        ':outbox': options.onward,
        ':onward': options.onward.map(({ kind, target, correlationId }) => ({ kind, target, correlationId })),
      } as Record<string, unknown>,
    };
  }

  #key(id: MessageIdentity) {
    return {
      TableName: this.#tableName,
      Key: { [LifecycleKeys.partitionKey]: LifecycleKeys.of(id.channel, id.correlationId) },
    };
  }

  #identitySet(id: MessageIdentity): string {
    const flow = `${id.flowId === undefined ? '' : ', #flowId = :flowId'}${id.causationId === undefined ? '' : ', #causationId = :causationId'}${
      id.sentAt === undefined ? '' : ', #sentAt = if_not_exists(#sentAt, :sentAt)'
    }`;
    return `SET #correlationId = :correlationId, #channel = :channel, #messageId = :messageId, #firstReceivedAt = if_not_exists(#firstReceivedAt, :receivedAt), #updatedAt = :receivedAt, #ttl = :ttl${flow}`;
  }

  #identityValues(id: MessageIdentity, now: number) {
    return {
      ':flowId': id.flowId,
      ':causationId': id.causationId,
      ':sentAt': id.sentAt,
      ':correlationId': id.correlationId,
      ':channel': id.channel,
      ':messageId': id.messageId,
      ':receivedAt': now,
      ':ttl': Math.floor(now / 1000) + LIFECYCLE_RETENTION_SECONDS,
    };
  }
}

/** Every attribute goes through a placeholder: several (status, reason, ttl) are DynamoDB reserved words. */
const NAMES = {
  '#correlationId': 'correlationId',
  '#channel': 'channel',
  '#messageId': 'messageId',
  '#status': 'status',
  '#attempts': 'attempts',
  '#firstReceivedAt': 'firstReceivedAt',
  '#updatedAt': 'updatedAt',
  '#completedAt': 'completedAt',
  '#reason': 'reason',
  '#reply': 'reply',
  '#leaseUntil': 'leaseUntil',
  '#leaseToken': 'leaseToken',
  '#history': 'history',
  '#attemptsBeforeRedrive': 'attemptsBeforeRedrive',
  '#effectApplied': 'effectApplied',
  '#flowId': 'flowId',
  '#causationId': 'causationId',
  '#sentAt': 'sentAt',
  '#outbox': 'outbox',
  '#onward': 'onward',
  '#ttl': LifecycleKeys.timeToLive,
} as const;

/**
 * DynamoDB rejects placeholders an expression does not use, so the shared tables above are trimmed to the
 * ones each request's expressions mention.
 */
function usedOnly<T extends { UpdateExpression?: string; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> }>(input: T): T {
  const text = `${input.UpdateExpression ?? ''} ${input.ConditionExpression ?? ''}`;
  const mentioned = (placeholder: string) => new RegExp(`${placeholder}(?![A-Za-z0-9_])`).test(text);
  const pick = <V>(table: Record<string, V> | undefined) =>
    table && Object.fromEntries(Object.entries(table).filter(([placeholder]) => mentioned(placeholder)));
  return { ...input, ExpressionAttributeNames: pick(input.ExpressionAttributeNames), ExpressionAttributeValues: pick(input.ExpressionAttributeValues) };
}

/** A conditional update of a lifecycle record, as a transaction's item and as a lone UpdateItem take it. */
type RecordUpdate = NonNullable<TransactWrite['Update']>;

/** A lifecycle record as DynamoDB returns it with a failed condition: attribute values, not unmarshalled. */
interface RawRecord {
  readonly status?: { readonly S?: string };
  readonly messageId?: { readonly S?: string };
  readonly completedAt?: { readonly N?: string };
  readonly leaseUntil?: { readonly N?: string };
  readonly effectApplied?: { readonly BOOL?: boolean };
  readonly outbox?: unknown;
  readonly reason?: { readonly S?: string };
  readonly history?: { readonly L?: readonly { readonly M?: { readonly attempt?: { readonly N?: string } } }[] };
}

/** Whether the record holds the success this very delivery (its message, its attempt, its time) wrote. */
function isSuccessOf(record: RawRecord | undefined, id: MessageIdentity, now: number): boolean {
  return (
    record?.status?.S === 'succeeded' &&
    record.messageId?.S === id.messageId &&
    record.completedAt?.N === String(now) &&
    record.history?.L?.at(-1)?.M?.attempt?.N === String(id.attempt)
  );
}

/** A transaction cancelled because the lifecycle item (always the first item) failed its condition. */
function lifecycleConditionFailed(error: unknown): boolean {
  return error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}
