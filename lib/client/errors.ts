/**
 * Every error a caller of the SDK (and so a user of the CLI) can meet: one line of text, a stable `code`, and
 * the exit status the CLI maps it to. No stack trace is needed to understand any of them.
 */
export abstract class ClientError extends Error {
  public abstract readonly code: string;
  /** The CLI's exit status: 2 for bad input, 3 for an environment problem, 4 for a message that failed. */
  public abstract readonly exitCode: number;

  /** @param options.cause the underlying error (an AWS SDK error, a socket error), kept for callers and --debug */
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

abstract class BadInput extends ClientError {
  public readonly exitCode = 2;
}
abstract class EnvironmentProblem extends ClientError {
  public readonly exitCode = 3;
}
abstract class MessageFailure extends ClientError {
  public readonly exitCode = 4;
}

export class UnknownChannel extends BadInput {
  public readonly code = 'UNKNOWN_CHANNEL';
  public constructor(channel: string, known: readonly string[]) {
    super(`unknown channel "${channel}"; the channels are: ${known.join(', ')}`);
  }
}

export class UnknownTopic extends BadInput {
  public readonly code = 'UNKNOWN_TOPIC';
  public constructor(topic: string, known: readonly string[]) {
    super(`unknown topic "${topic}"; the topics are: ${known.join(', ') || 'none (export "topics" from the channels module)'}`);
  }
}

export class InvalidJson extends BadInput {
  public readonly code = 'INVALID_JSON';
}

export class SchemaViolation extends BadInput {
  public readonly code = 'SCHEMA_VIOLATION';
}

export class MessageTooLarge extends BadInput {
  public readonly code = 'MESSAGE_TOO_LARGE';
}

export class WrongPolicy extends BadInput {
  public readonly code = 'WRONG_POLICY';
}

export class InvalidArgument extends BadInput {
  public readonly code = 'INVALID_ARGUMENT';
}

export class LocalCloudNotRunning extends EnvironmentProblem {
  public readonly code = 'LOCAL_CLOUD_NOT_RUNNING';
}

export class StackNotDeployed extends EnvironmentProblem {
  public readonly code = 'STACK_NOT_DEPLOYED';
}

/** Pushed replies need a reply queue, which the caller could not create (most often: it lacks grantReadReplies). */
export class ReplyQueueUnavailable extends EnvironmentProblem {
  public readonly code = 'REPLY_QUEUE_UNAVAILABLE';
}

export class MissingCredentials extends EnvironmentProblem {
  public readonly code = 'MISSING_CREDENTIALS';
}

export class EndpointUnreachable extends EnvironmentProblem {
  public readonly code = 'ENDPOINT_UNREACHABLE';
}

/** The local cloud could not start: the app does not synthesize, or an emulator (Java for DynamoDB Local) is missing. */
export class LocalCloudFailed extends EnvironmentProblem {
  public readonly code = 'LOCAL_CLOUD_FAILED';
}

export class MissingRegion extends EnvironmentProblem {
  public readonly code = 'MISSING_REGION';
  public constructor(options?: { cause?: unknown }) {
    super('no AWS region; pass --region (region in the SDK) or set AWS_REGION', options);
  }
}

/** An application without a channel catalog where one was looked for. */
export class CatalogNotFound extends BadInput {
  public readonly code = 'CATALOG_NOT_FOUND';
}

/** AWS refused a call (access denied, throttled, a missing resource); the message names AWS's own error. */
export class AwsCallFailed extends EnvironmentProblem {
  public readonly code = 'AWS_ERROR';
}

/**
 * What a failed AWS call means to someone running a command: no credentials, no region, nothing listening, or
 * AWS's own refusal; one line each, with the original error as the cause. Anything else is passed on unchanged.
 */
export function translateAwsError(error: unknown, where: string): unknown {
  if (error instanceof ClientError || !(error instanceof Error)) return error;
  const text = `${error.name} ${error.message} ${(error as { code?: string }).code ?? ''}`;
  if (error.name === 'CredentialsProviderError' || /Could not load credentials/i.test(text)) {
    return new MissingCredentials('no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY', { cause: error });
  }
  if (/Region is missing|Region not accepted/i.test(text)) return new MissingRegion({ cause: error });
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|socket hang up/i.test(text)) {
    return new EndpointUnreachable(`cannot reach ${where}: ${oneLine(error.message)}`, { cause: error });
  }
  if ((error as { $metadata?: unknown }).$metadata) return new AwsCallFailed(`${where}: ${error.name}: ${oneLine(error.message)}`, { cause: error });
  return error;
}

/** What each responder did before the deadline passed. */
export interface ResponderAttempt {
  readonly responder: 'primary' | 'fallback';
  readonly outcome: string;
}

/** A request no responder answered; carries what each one did, so the caller can tell slow from broken. */
abstract class ResponderFailure extends MessageFailure {
  public readonly attempts: readonly ResponderAttempt[];
  public constructor(message: string, attempts: readonly ResponderAttempt[]) {
    super(`${message} (${attempts.map((a) => `${a.responder}: ${a.outcome}`).join('; ') || 'no responder answered'})`);
    this.attempts = attempts;
  }
}

export class DeadlineExceeded extends ResponderFailure {
  public readonly code = 'DEADLINE_EXCEEDED';
  public constructor(channel: string, deadlineMs: number, attempts: readonly ResponderAttempt[]) {
    super(`${channel}: no answer within ${deadlineMs} ms`, attempts);
  }
}

export class DeadLettered extends MessageFailure {
  public readonly code = 'DEAD_LETTERED';
}

export class ReplyTimeout extends MessageFailure {
  public readonly code = 'REPLY_TIMEOUT';
}

/** SQS's texts may hold line breaks; a ClientError's message is one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export class NoAnswer extends ResponderFailure {
  public readonly code = 'NO_ANSWER';
  public constructor(channel: string, attempts: readonly ResponderAttempt[]) {
    super(`${channel}: every responder failed`, attempts);
  }
}
