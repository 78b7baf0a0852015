import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { MessageAttribute, ReplyQueue, type ReplyNotice } from '../../lib/policy/index.ts';
import { reasonOf } from './errors.ts';
import type { Logger } from './telemetry.ts';

/** Where a consumer may send notices: its stack's reply queues, beside its own queue. */
export interface ReplyQueues {
  readonly prefix: string | undefined;
  /** The consumer's own queue's URL, which gives the account's and region's SQS address. */
  readonly queueUrl: string;
}

/**
 * Tells the caller waiting on a message that its lifecycle record has its end (its reply, or its dead-lettering), if
 * the message names a reply queue. Only a wake-up: the caller reads the record. So a notice that fails is a warning,
 * never a failure of the message, whose end is written; the caller sees it at its next read of the record instead.
 */
export async function sendReplyNotice(sqs: SQSClient, queues: ReplyQueues, record: SQSRecord, notice: ReplyNotice, logger: Logger): Promise<void> {
  const replyTo = record.messageAttributes?.[MessageAttribute.replyTo]?.stringValue;
  if (replyTo === undefined) return;
  // The name is the sender's: a notice goes only to one of the stack's reply queues, at an address built here.
  if (queues.prefix === undefined || !ReplyQueue.isNamed(replyTo, queues.prefix)) {
    logger.warn('its replyTo names none of the stack\'s reply queues; no notice is sent', { replyTo });
    return;
  }
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: ReplyQueue.url(queues.queueUrl, replyTo), MessageBody: JSON.stringify(notice) }));
  } catch (error) {
    logger.warn('could not tell the caller its reply is there; it reads the reply at its next look', { replyTo, error: reasonOf(error) });
  }
}
