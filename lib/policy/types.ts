/**
 * The delivery-policy model: plain data, no CDK and no AWS SDK. Constructs translate it into infrastructure,
 * the consumer runtime obeys it, the SDK picks its sending mechanism from it.
 *
 * Times are whole numbers with their unit in the name; the model is serialised into each consumer's
 * environment (`CHANNEL_POLICY`), so it must stay JSON.
 */

/** The three ways a message can travel (see DESIGN.md). */
export type PolicyKind = 'request-response' | 'guaranteed' | 'fire-and-forget';

/** What a guaranteed consumer's effect is, which decides how the runtime makes it happen exactly once. */
export type EffectKind =
  /** The handler returns DynamoDB writes; the runtime commits them in one transaction with the lifecycle record. */
  | 'transactional'
  /** The handler acts on the outside world; the runtime claims the message with a lease, runs it, then completes it. */
  | 'outside';

/** Settings every queue-backed consumer shares. */
export interface ConsumerOptions {
  /** The consumer function's timeout. 1..900. @default 30 */
  readonly timeoutSeconds?: number;
  /** The consumer function's memory. 128..10240. @default 512 */
  readonly memorySizeMb?: number;
  /** Records per invocation. 1..10 (FIFO), 1..10000 (standard; above 10 needs a batching window). @default 10 */
  readonly batchSize?: number;
  /** How long Lambda gathers records before invoking. 0..300. @default 0 */
  readonly maxBatchingWindowSeconds?: number;
  /**
   * The most concurrent invocations the event source mapping starts. 2..1000.
   * Capped here, never with reserved concurrency (which throttles messages into the DLQ).
   * @default - no cap beyond the account's concurrency
   */
  readonly maxConcurrency?: number;
  /**
   * The event source mapping's provisioned mode: pollers kept ready (minimum) and the most it scales to (maximum),
   * for low latency through bursts, billed per event poller unit. Lambda takes it or maxConcurrency, not both.
   * minimum 2..200, maximum 2..2000. @default - on-demand polling
   */
  readonly provisionedPollers?: ProvisionedPollers;
  /**
   * The largest message body the channel takes, in bytes, checked by the SDK and by the queue itself (whose limit
   * adds room for the SDK's attributes). 1024..1048064 (fire-and-forget), ..1031680 (guaranteed, whose DLQ copies
   * carry a reason too). @default 262144 (256 KiB, which a consumer can still record in a 400 KB DynamoDB item)
   */
  readonly maxMessageBytes?: number;
}

export interface ProvisionedPollers {
  readonly minimum: number;
  readonly maximum: number;
}

/** Guaranteed delivery: the message must not be lost; it is retried with backoff and dead-lettered with a reason. */
export interface GuaranteedPolicyInput extends ConsumerOptions {
  readonly kind: 'guaranteed';
  /** How the consumer's effect is made exactly-once. @default 'transactional' */
  readonly effect?: EffectKind;
  /**
   * Attempts that run the handler before the runtime dead-letters the message with its reason. The runtime counts
   * them in the lifecycle record, so receives that never reach the handler (throttles, FIFO records held behind a
   * failed one, step-backs from another delivery's lease, records cut off at the function's deadline) do not use
   * them up. 1..100. @default 5
   */
  readonly maxAttempts?: number;
  /**
   * The queue's redrive backstop: receives before SQS itself moves the message to the DLQ. Above maxAttempts, so it
   * acts only when the runtime could not (a consumer that keeps crashing); on its last receive the runtime
   * dead-letters with a reason whatever the attempt count. maxAttempts + 1..1000. @default - 4 × maxAttempts
   */
  readonly maxReceiveCount?: number;
  /**
   * The queue's visibility timeout. 0..43200; must be at least 6 × timeout + batching window.
   * @default - 6 × timeoutSeconds + maxBatchingWindowSeconds
   */
  readonly visibilityTimeoutSeconds?: number;
  /** How long the queue keeps a message. 60..1209599, and shorter than the DLQ's 14 days. @default 345600 (4 days) */
  readonly retentionPeriodSeconds?: number;
  /** First retry delay; each later attempt doubles it. 1..43200 − timeoutSeconds. @default 2 */
  readonly backoffBaseSeconds?: number;
  /**
   * The longest retry delay. backoffBaseSeconds..43200 − timeoutSeconds: SQS caps a message's visibility at 12 hours
   * from its receipt, and the delay is set at the end of an attempt that may have run the whole timeout.
   * @default 300
   */
  readonly backoffMaxSeconds?: number;
  /**
   * How long an 'outside' effect's claim lasts before another delivery may take it over.
   * Longer than the function's timeout, so a live attempt is never overtaken; at most 43200 − timeoutSeconds, since a
   * delivery that finds the lease held waits out its remainder as a visibility delay.
   * @default - timeoutSeconds + 10
   */
  readonly leaseSeconds?: number;
  /** Keep the handler's result in the lifecycle record so the caller can read it later. @default false */
  readonly reply?: boolean;
  /**
   * A FIFO queue and DLQ; a failure in a message group stops that group's later records in the batch. Lambda
   * takes no batching window from a FIFO queue. @default false
   */
  readonly fifo?: boolean;
}

/** Fire-and-forget: valuable for a limited time; it expires, is never retried and never dead-lettered. */
export interface FireAndForgetPolicyInput extends ConsumerOptions {
  readonly kind: 'fire-and-forget';
  /** How long a message is worth anything. 1..1209600. @default 60 */
  readonly timeToLiveSeconds?: number;
}

/** Request-response: the caller waits up to a deadline; a fallback answers when the primary fails or is slow. */
export interface RequestResponsePolicyInput {
  readonly kind: 'request-response';
  /** How long the caller waits in all, primary and fallback together. 100..900000. @default 3000 */
  readonly deadlineMs?: number;
  /** Deploy a fallback responder that answers when the primary fails, is throttled or is slow. @default true */
  readonly fallback?: boolean;
  /**
   * Ask the fallback too once the primary has not answered within this fraction of the deadline; the first
   * answer wins. Exclusive range 0..1; needs a fallback.
   * @default - no hedging: the fallback is asked only after the primary fails
   */
  readonly hedgeAfterFraction?: number;
  /** Each responder's memory. 128..10240. @default 512 */
  readonly memorySizeMb?: number;
}

export type PolicyInput = GuaranteedPolicyInput | FireAndForgetPolicyInput | RequestResponsePolicyInput;

/** A guaranteed policy with every default applied and every rule checked. */
export interface GuaranteedPolicy extends Required<Omit<GuaranteedPolicyInput, 'maxConcurrency' | 'provisionedPollers'>> {
  readonly maxConcurrency: number | undefined;
  readonly provisionedPollers: ProvisionedPollers | undefined;
  /** Fixed at SQS's maximum so that it always outlives the source queue's retention. */
  readonly dlqRetentionPeriodSeconds: number;
}

/** A fire-and-forget policy with every default applied and every rule checked. */
export interface FireAndForgetPolicy extends Required<Omit<FireAndForgetPolicyInput, 'maxConcurrency' | 'provisionedPollers'>> {
  readonly maxConcurrency: number | undefined;
  readonly provisionedPollers: ProvisionedPollers | undefined;
  readonly visibilityTimeoutSeconds: number;
  /** The shortest retention SQS allows that still covers the time to live. */
  readonly retentionPeriodSeconds: number;
}

/** A request-response policy with every default applied and every rule checked. */
export interface RequestResponsePolicy extends Required<Omit<RequestResponsePolicyInput, 'hedgeAfterFraction'>> {
  readonly hedgeAfterFraction: number | undefined;
  /** Each responder's Lambda timeout: the deadline rounded up to whole seconds, so no responder outlives its caller by more than a second. */
  readonly timeoutSeconds: number;
}

export type DeliveryPolicy = GuaranteedPolicy | FireAndForgetPolicy | RequestResponsePolicy;
