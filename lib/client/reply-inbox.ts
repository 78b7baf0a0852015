import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  TagQueueCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplyQueue, type ReplyNotice } from '../policy/index.ts';

/** A notice is worth something only to a caller waiting now: its queue keeps it SQS's shortest time. */
const NOTICE_RETENTION_SECONDS = 60;
/** SQS's longest long poll: the fewest receives while nothing comes. */
const LONG_POLL_SECONDS = 20;
/** A reply queue says it is alive by this tag, refreshed while its client lives. */
const HEARTBEAT_TAG = 'delivery-policies:heartbeat';
const HEARTBEAT_EVERY_MS = 10 * 60 * 1000;
/** A reply queue whose heartbeat is older is its dead client's, and another client of the stack deletes it. */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;
/** After a receive fails (the queue deleted under it, SQS unreachable), the next one waits this long. */
const RECEIVE_RETRY_MS = 1000;

/** One wait for a reply: a notice that comes while its record is being read is kept for the next wait, so none is lost. */
export class NoticeWait {
  #pending = false;
  #wake: (() => void) | undefined;

  public notify(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Resolves after `ms`, or at once on a notice since the last wait; rejects with the signal's reason when it aborts. */
  public async wait(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (!this.#pending) {
      await new Promise<void>((resolve, reject) => {
        const settle = (outcome: () => void) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', aborted);
          this.#wake = undefined;
          outcome();
        };
        const aborted = () => settle(() => reject(signal!.reason));
        const timer = setTimeout(() => settle(resolve), ms);
        this.#wake = () => settle(resolve);
        signal?.addEventListener('abort', aborted, { once: true });
      });
    }
    this.#pending = false;
  }
}

/**
 * A client's reply queue: where consumers send a notice once a reply it waits for is committed (see ReplyQueue). It is
 * created on first use, long-polled only while someone waits (one receive per 20 s idle, one per batch of up to ten
 * notices), and deleted by close(). A client that dies without closing leaves it behind; its heartbeat tag then ages,
 * and the next reply queue created for the stack deletes it.
 */
export class ReplyInbox {
  readonly #sqs: SQSClient;
  readonly #prefix: string;
  readonly #sameAccountQueueUrl: string;
  readonly #waits = new Map<string, Set<NoticeWait>>();
  #queue: Promise<{ readonly name: string; readonly url: string }> | undefined;
  #polling: AbortController | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param sameAccountQueueUrl any of the stack's queue URLs: the reply queue's is built beside it, as consumers build it */
  public constructor(sqs: SQSClient, prefix: string, sameAccountQueueUrl: string) {
    this.#sqs = sqs;
    this.#prefix = prefix;
    this.#sameAccountQueueUrl = sameAccountQueueUrl;
  }

  /** The queue's name, as a message's replyTo gives it; the queue is created on the first call. */
  public async name(): Promise<string> {
    return (await this.#created()).name;
  }

  /** Notifies `wait` at each notice for correlationId until the returned function is called. */
  public watch(correlationId: string, wait: NoticeWait): () => void {
    const waits = this.#waits.get(correlationId) ?? new Set();
    this.#waits.set(correlationId, waits.add(wait));
    // A queue that cannot be made leaves the waiter to its reads of the record; the send that needed one said why.
    this.#created()
      .then(({ url }) => this.#poll(url))
      .catch(() => undefined);
    return () => {
      waits.delete(wait);
      if (waits.size === 0) this.#waits.delete(correlationId);
      if (this.#waits.size === 0) this.#stopPolling();
    };
  }

  /**
   * Deletes the stack's reply queues whose heartbeat is older than ABANDONED_AFTER_MS (or that have none), this
   * client's own excepted: once, after its own is created.
   */
  async #sweepAbandoned(ownName: string): Promise<void> {
    const urls: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#sqs.send(new ListQueuesCommand({ QueueNamePrefix: this.#prefix, MaxResults: 1000, NextToken: nextToken }));
      urls.push(...(page.QueueUrls ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    for (const url of urls) {
      const name = url.slice(url.lastIndexOf('/') + 1);
      if (name === ownName || !ReplyQueue.isNamed(name, this.#prefix)) continue;
      try {
        const { Tags = {} } = await this.#sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
        if (Date.now() - Number(Tags[HEARTBEAT_TAG] ?? 0) <= ABANDONED_AFTER_MS) continue;
        await this.#sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
      } catch {
        // Deleted meanwhile by another client's sweep, or by its own client: nothing left to do.
      }
    }
  }

  /** Stops receiving and deletes the queue; the inbox makes no queue after it. */
  public async close(): Promise<void> {
    this.#closed = true;
    this.#stopPolling();
    // A creation under way finishes first, so that its queue and heartbeat are the ones ended here.
    const queue = await this.#queue?.catch(() => undefined);
    clearInterval(this.#heartbeat);
    this.#queue = undefined;
    if (queue) await this.#sqs.send(new DeleteQueueCommand({ QueueUrl: queue.url }));
  }

  #created(): Promise<{ readonly name: string; readonly url: string }> {
    if (this.#closed) return Promise.reject(new Error('this client is closed: it makes no reply queue'));
    this.#queue ??= this.#create().catch((error: unknown) => {
      this.#queue = undefined;
      throw error;
    });
    return this.#queue;
  }

  /**
   * Forgets a queue SQS no longer has (swept as abandoned while this process was frozen past its heartbeat): the next
   * send makes another. The replies named the old one are read on the waiters' own schedule.
   */
  #forget(): void {
    clearInterval(this.#heartbeat);
    this.#queue = undefined;
    this.#stopPolling();
  }

  #stopPolling(): void {
    this.#polling?.abort();
    this.#polling = undefined;
  }

  async #create() {
    const name = `${this.#prefix}${randomUUID().replaceAll('-', '')}`;
    const url = ReplyQueue.url(this.#sameAccountQueueUrl, name);
    const heartbeat = () => ({ [HEARTBEAT_TAG]: String(Date.now()) });
    await this.#sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: { MessageRetentionPeriod: String(NOTICE_RETENTION_SECONDS), SqsManagedSseEnabled: 'true' }, tags: heartbeat() }),
    );
    this.#heartbeat = setInterval(() => this.#sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: heartbeat() })).catch(() => undefined), HEARTBEAT_EVERY_MS);
    this.#heartbeat.unref();
    this.#sweepAbandoned(name).catch(() => undefined);
    return { name, url };
  }

  /** Receives while anyone waits, waking the waiters of each notice; one loop at a time. */
  async #poll(url: string): Promise<void> {
    if (this.#polling || this.#waits.size === 0 || this.#closed) return;
    const polling = new AbortController();
    this.#polling = polling;
    while (!polling.signal.aborted) {
      try {
        // Received visible: a long poll given up when the last waiter left may still take a notice on SQS's side (fauxqs
        // does), which would then stay hidden for the queue's visibility timeout from the next waiter for that message.
        const { Messages = [] } = await this.#sqs.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: LONG_POLL_SECONDS, VisibilityTimeout: 0 }),
          { abortSignal: polling.signal },
        );
        for (const message of Messages) {
          const notice = noticeOf(message.Body);
          if (notice) for (const wait of this.#waits.get(notice.correlationId) ?? []) wait.notify();
        }
        if (Messages.length > 0) {
          const entries = Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! }));
          // Deleted before the next receive, which would otherwise take them again at once.
          const { Failed = [] } = await this.#sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }));
          if (Failed.length > 0) throw new Error(`${Failed.length} notices not deleted`);
        }
      } catch (error) {
        if (polling.signal.aborted) break;
        if (/QueueDoesNotExist|NonExistentQueue/.test((error as Error).name)) {
          if (this.#polling === polling) this.#forget();
          break;
        }
        // Paced: a notice left undeleted comes back on every receive, and would spin the loop until it expires.
        await sleep(RECEIVE_RETRY_MS, undefined, { signal: polling.signal }).catch(() => undefined);
      }
    }
  }
}

/** A notice's body as consumers write it, or nothing for anything else: it only decides whom to wake. */
function noticeOf(body: string | undefined): ReplyNotice | undefined {
  try {
    const parsed = JSON.parse(body ?? '') as Partial<ReplyNotice>;
    return typeof parsed.correlationId === 'string' && typeof parsed.channel === 'string' ? (parsed as ReplyNotice) : undefined;
  } catch {
    return undefined;
  }
}
