import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import type { ConsumerClients } from './config.ts';
import type { NoOnward, Onward, OnwardTargets } from './onward.ts';
import type { Logger } from './telemetry.ts';

/** One write a handler asks the runtime to commit with the lifecycle record, in lib-dynamodb's form. */
export type TransactWrite = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * What a guaranteed handler hands back: the writes that are its effect, the reply for channels with replies, and the
 * messages it sends on (`send`, to the channels its consumer declares in `sendsTo`; `publish`, to the topics in
 * `publishesTo`). The onward messages are committed with the effect and sent after it: never for an effect that did
 * not commit, and, if the process dies before they are sent, by the message's next delivery, under the same ids.
 */
export interface HandlerOutcome<Reply = unknown, Targets extends OnwardTargets = NoOnward> extends Onward<Targets> {
  /** Committed in one transaction with the lifecycle record, so they happen exactly once. At most 99. */
  readonly writes?: readonly TransactWrite[];
  readonly reply?: Reply;
}

/** What a handler knows about the message it is handling. */
export interface MessageContext {
  readonly channel: string;
  readonly messageId: string;
  /** The dedupe key: the SDK's correlation id, or the SQS message id when the sender set none. */
  readonly correlationId: string;
  /**
   * The key to hand an outside system (an Idempotency-Key header, a client token) so that it can drop a repeat:
   * an outside effect runs again if its attempt does not complete after the effect (a crash, a timeout, a cut-off at
   * the batch deadline). The correlation id.
   */
  readonly idempotencyKey: string;
  /** The SQS receive count of this delivery, 1 on the first receive. */
  readonly attempt: number;
  /** The flow this message belongs to: the correlation id of the flow's first message (its own, if it began one). */
  readonly flowId: string;
  /** The correlation id of the message whose handler sent this one on, if one did. */
  readonly causationId?: string;
  /** The state table, for handlers whose effect is a write to it. */
  readonly tableName: string;
  /**
   * The runtime's clients, for an effect made outside the lifecycle transaction (an `outside` or fire-and-forget
   * handler's). A transactional handler returns its `writes` instead: only those commit with the record.
   */
  readonly clients: ConsumerClients;
  readonly logger: Logger;
  readonly record: SQSRecord;
}

/** The runtime's answer to Lambda: records listed here are retried; every other record is deleted. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** How one record ended. */
export type RecordOutcome =
  | 'succeeded'
  | 'duplicate'
  | 'dead-lettered'
  | 'retry'
  | 'expired'
  | 'dropped'
  | 'skipped-after-group-failure'
  /** Still running when the batch had to answer before the function's timeout; reported failed. */
  | 'cut-off';
