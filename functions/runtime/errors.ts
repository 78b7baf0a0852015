/** Base of the runtime's errors: sets `name` and carries a `code` that logs and lifecycle records can key on. */
export abstract class ConsumerRuntimeError extends Error {
  public abstract readonly code: string;

  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Thrown by a handler when retrying cannot help (a rule the message breaks, a referenced thing that will never
 * exist). The runtime dead-letters the message at once with this error's message as the reason.
 */
export class PermanentError extends ConsumerRuntimeError {
  public readonly code = 'PERMANENT_FAILURE';
}

/** The body is not JSON or does not match the channel's schema: dead-lettered on its first receive. */
export class InvalidMessageError extends ConsumerRuntimeError {
  public readonly code = 'INVALID_MESSAGE';
}

/** The function's environment does not describe a channel this runtime can serve: a deployment mistake. */
export class ConsumerConfigurationError extends ConsumerRuntimeError {
  public readonly code = 'CONSUMER_MISCONFIGURED';
}

/** A one-line reason for the lifecycle record and the DLQ attribute; never a stack trace. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 1000);
}

/**
 * DynamoDB errors that no retry can cure: a failed condition on one of the handler's own writes, a request over
 * DynamoDB's limits (more than 100 items, over 4 MB, an item over 400 KB), a missing table or permission. The
 * reason names what failed; undefined means the error may pass (throttles, conflicts, timeouts) and is retried.
 * The lifecycle item is the transaction's first item, and its failed condition means a duplicate, not a failure.
 */
export function permanentDynamoFailure(error: unknown): string | undefined {
  const name = (error as Error | undefined)?.name;
  if (name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: { Code?: string; Message?: string }[] }).CancellationReasons ?? [];
    if (reasons.some((reason) => reason.Code !== undefined && TRANSIENT_CANCELLATIONS.has(reason.Code))) return undefined;
    const index = reasons.findIndex((reason, position) => position > 0 && reason.Code !== undefined && reason.Code !== 'None');
    if (index < 0) return undefined;
    const reason = reasons[index]!;
    return `the handler's write ${index} was refused: ${reason.Code}${reason.Message ? `: ${reason.Message}` : ''}`;
  }
  if (name !== undefined && PERMANENT_ERRORS.has(name)) return reasonOf(error);
  return undefined;
}

const TRANSIENT_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);
const PERMANENT_ERRORS = new Set([
  'ValidationException',
  'AccessDeniedException',
  'ResourceNotFoundException',
  'ItemCollectionSizeLimitExceededException',
  'IdempotentParameterMismatchException',
  'UnrecognizedClientException',
]);
