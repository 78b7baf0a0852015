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

/** Another delivery of the same message holds a live lease: this one steps back and comes again later. */
export class LeaseHeldError extends ConsumerRuntimeError {
  public readonly code = 'LEASE_HELD';
}

/** A one-line reason for the lifecycle record and the DLQ attribute; never a stack trace. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 1000);
}
