import { ALARM_LEAD_SECONDS, longestQueueLifeSeconds, longestReceiveSeconds } from './backoff.ts';
import { PolicyError, type PolicyViolation } from './errors.ts';
import type {
  DeliveryPolicy,
  FireAndForgetPolicy,
  FireAndForgetPolicyInput,
  GuaranteedPolicy,
  GuaranteedPolicyInput,
  PolicyInput,
  RequestResponsePolicy,
  RequestResponsePolicyInput,
} from './types.ts';
import { DEAD_LETTER_COPY_RESERVE_BYTES, SDK_ATTRIBUTE_BYTES, SQS_MAX_MESSAGE_BYTES } from './wire.ts';

/** SQS limits the rules below are built from. */
export const SQS_MIN_RETENTION_SECONDS = 60;
export const SQS_MAX_RETENTION_SECONDS = 1_209_600;
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;
/** Lambda invokes at most 10 records per batch from a FIFO queue, and needs a batching window above 10 from a standard one. */
const FIFO_MAX_BATCH = 10;
const STANDARD_MAX_BATCH = 10_000;

/** Channel names become queue names, output keys and key prefixes, so they stay short and alphanumeric. */
const CHANNEL_NAME = /^[a-z][a-zA-Z0-9]{0,39}$/;

/** Whether a name can be a channel's or a topic's (both become resource names and output keys). */
export function isChannelName(name: string): boolean {
  return CHANNEL_NAME.test(name);
}

/** A rule over a resolved policy: the field it concerns, a check that is true when the policy obeys it, and its wording. */
interface Rule<P> {
  readonly field: keyof P & string;
  readonly holds: (policy: P) => boolean;
  readonly rule: (policy: P) => string;
}

const wholeIn = (value: unknown, min: number, max: number) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

const integerIn = <P>(field: keyof P & string, min: number, max: number): Rule<P> => ({
  field,
  holds: (policy) => {
    const value = policy[field];
    return value === undefined || wholeIn(value, min, max);
  },
  rule: () => `must be a whole number from ${min} to ${max}`,
});

const consumerRules = <P extends GuaranteedPolicy | FireAndForgetPolicy>(): Rule<P>[] => [
  integerIn<P>('timeoutSeconds', 1, 900),
  integerIn<P>('memorySizeMb', 128, 10_240),
  integerIn<P>('maxBatchingWindowSeconds', 0, 300),
  integerIn<P>('maxConcurrency', 2, 1000),
  {
    field: 'provisionedPollers',
    holds: (p) => !p.provisionedPollers || p.maxConcurrency === undefined,
    rule: () => 'cannot be combined with maxConcurrency (Lambda takes one or the other; cap the pollers with provisionedPollers.maximum)',
  },
  {
    field: 'provisionedPollers',
    holds: (p) => !p.provisionedPollers || (wholeIn(p.provisionedPollers.minimum, 2, 200) && wholeIn(p.provisionedPollers.maximum, 2, 2000)),
    rule: () => 'needs a whole minimum from 2 to 200 and a whole maximum from 2 to 2000 (the SQS limits of provisioned mode)',
  },
  {
    field: 'provisionedPollers',
    holds: (p) => !p.provisionedPollers || p.provisionedPollers.minimum <= p.provisionedPollers.maximum,
    rule: () => 'needs its minimum at most its maximum',
  },
  {
    field: 'batchSize',
    holds: (p) => Number.isInteger(p.batchSize) && p.batchSize >= 1 && p.batchSize <= maxBatch(p),
    rule: (p) => `must be a whole number from 1 to ${maxBatch(p)}${'fifo' in p && p.fifo ? ' for a FIFO queue' : ''}`,
  },
  {
    field: 'batchSize',
    holds: (p) => p.batchSize <= 10 || p.maxBatchingWindowSeconds > 0,
    rule: () => 'above 10 needs maxBatchingWindowSeconds of at least 1 (a Lambda rule)',
  },
  {
    field: 'visibilityTimeoutSeconds',
    holds: (p) => p.visibilityTimeoutSeconds >= minimumVisibility(p),
    rule: (p) =>
      `must be at least 6 × timeout + batching window (${minimumVisibility(p)}), so that a message is not redelivered while Lambda still holds it`,
  },
  integerIn<P>('visibilityTimeoutSeconds', 0, SQS_MAX_VISIBILITY_SECONDS),
  {
    field: 'maxMessageBytes',
    holds: (p) => wholeIn(p.maxMessageBytes, MIN_MESSAGE_BYTES, largestMessage(p)),
    rule: (p) =>
      p.kind === 'guaranteed'
        ? `must be a whole number from ${MIN_MESSAGE_BYTES} to ${largestMessage(p)}: SQS's ${SQS_MAX_MESSAGE_BYTES} bytes less the SDK's attributes and what the runtime adds to a message's DLQ copy (its reason), so that every message the queue takes fits its DLQ`
        : `must be a whole number from ${MIN_MESSAGE_BYTES} to ${largestMessage(p)}: SQS's ${SQS_MAX_MESSAGE_BYTES} bytes less the SDK's attributes`,
  },
];

/** SQS's smallest maximum message size. */
const MIN_MESSAGE_BYTES = 1024;

/** The largest message body a channel may take: its queue's limit holds the SDK's attributes too, and a DLQ copy more. */
function largestMessage(policy: GuaranteedPolicy | FireAndForgetPolicy): number {
  return SQS_MAX_MESSAGE_BYTES - SDK_ATTRIBUTE_BYTES - (policy.kind === 'guaranteed' ? DEAD_LETTER_COPY_RESERVE_BYTES : 0);
}

const guaranteedRules: Rule<GuaranteedPolicy>[] = [
  ...consumerRules<GuaranteedPolicy>(),
  {
    field: 'effect',
    holds: (p) => p.effect === 'transactional' || p.effect === 'outside',
    rule: () => "must be 'transactional' or 'outside'",
  },
  integerIn('maxAttempts', 1, 100),
  integerIn('maxReceiveCount', 2, 1000),
  {
    field: 'maxReceiveCount',
    holds: (p) => p.maxReceiveCount > p.maxAttempts,
    rule: (p) =>
      `must be above maxAttempts (${p.maxAttempts}): it is the backstop behind the runtime's attempt budget, and at or below it SQS would dead-letter messages without a reason`,
  },
  {
    field: 'maxBatchingWindowSeconds',
    holds: (p) => !p.fifo || p.maxBatchingWindowSeconds === 0,
    rule: () => 'must be 0 for a FIFO channel: Lambda rejects a batching window on a FIFO queue mapping',
  },
  integerIn('retentionPeriodSeconds', SQS_MIN_RETENTION_SECONDS, SQS_MAX_RETENTION_SECONDS),
  {
    field: 'retentionPeriodSeconds',
    holds: (p) => p.retentionPeriodSeconds >= longestQueueLifeSeconds(p) + ALARM_LEAD_SECONDS,
    rule: (p) =>
      `must cover every receive the policy allows (${p.maxReceiveCount}, each hiding the message for up to ${longestReceiveSeconds(p)} s: ${longestQueueLifeSeconds(p)} s) and an hour for the alarms to be acted on (${longestQueueLifeSeconds(p) + ALARM_LEAD_SECONDS} in all), or SQS deletes a message still being retried, with no DLQ copy`,
  },
  {
    field: 'retentionPeriodSeconds',
    holds: (p) => p.retentionPeriodSeconds < p.dlqRetentionPeriodSeconds,
    rule: (p) =>
      `must be shorter than the DLQ's retention (${p.dlqRetentionPeriodSeconds}), because a standard DLQ keeps the original enqueue time and would expire redriven messages early`,
  },
  integerIn('backoffBaseSeconds', 1, SQS_MAX_VISIBILITY_SECONDS),
  integerIn('backoffMaxSeconds', 1, SQS_MAX_VISIBILITY_SECONDS),
  {
    field: 'backoffMaxSeconds',
    holds: (p) => p.backoffMaxSeconds + p.timeoutSeconds <= SQS_MAX_VISIBILITY_SECONDS,
    rule: (p) => visibilityAfterAttemptRule(p),
  },
  {
    field: 'backoffMaxSeconds',
    holds: (p) => p.backoffMaxSeconds >= p.backoffBaseSeconds,
    rule: (p) => `must be at least backoffBaseSeconds (${p.backoffBaseSeconds})`,
  },
  {
    field: 'leaseSeconds',
    holds: (p) => Number.isInteger(p.leaseSeconds) && p.leaseSeconds > p.timeoutSeconds,
    rule: (p) => `must be a whole number longer than the function's timeout (${p.timeoutSeconds}), or a live attempt could be overtaken`,
  },
  {
    field: 'leaseSeconds',
    holds: (p) => p.leaseSeconds + p.timeoutSeconds <= SQS_MAX_VISIBILITY_SECONDS,
    rule: (p) => visibilityAfterAttemptRule(p),
  },
];

/** Delays set at the end of an attempt count from the message's receipt, which SQS caps at 12 hours. */
function visibilityAfterAttemptRule(p: GuaranteedPolicy): string {
  return `must be at most ${SQS_MAX_VISIBILITY_SECONDS - p.timeoutSeconds} (SQS's 12-hour visibility limit from the receipt, less the function's timeout of ${p.timeoutSeconds})`;
}

const fireAndForgetRules: Rule<FireAndForgetPolicy>[] = [
  ...consumerRules<FireAndForgetPolicy>(),
  integerIn('timeToLiveSeconds', 1, SQS_MAX_RETENTION_SECONDS),
];

const requestResponseRules: Rule<RequestResponsePolicy>[] = [
  integerIn('deadlineMs', 100, 900_000),
  integerIn('memorySizeMb', 128, 10_240),
  {
    field: 'hedgeAfterFraction',
    holds: (p) => p.hedgeAfterFraction === undefined || (p.hedgeAfterFraction > 0 && p.hedgeAfterFraction < 1),
    rule: () => 'must be between 0 and 1 (exclusive): the share of the deadline after which the fallback is asked too',
  },
  {
    field: 'hedgeAfterFraction',
    holds: (p) => p.hedgeAfterFraction === undefined || p.fallback,
    rule: () => 'needs fallback: true, since hedging asks the fallback',
  },
];

function maxBatch(policy: GuaranteedPolicy | FireAndForgetPolicy): number {
  return 'fifo' in policy && policy.fifo ? FIFO_MAX_BATCH : STANDARD_MAX_BATCH;
}

/** AWS's guidance for Lambda consumers: six times the function's timeout, plus the time records wait in a batch. */
export function minimumVisibility(policy: { timeoutSeconds: number; maxBatchingWindowSeconds: number }): number {
  return 6 * policy.timeoutSeconds + policy.maxBatchingWindowSeconds;
}

function consumerDefaults(input: GuaranteedPolicyInput | FireAndForgetPolicyInput) {
  const timeoutSeconds = input.timeoutSeconds ?? 30;
  const maxBatchingWindowSeconds = input.maxBatchingWindowSeconds ?? 0;
  return {
    timeoutSeconds,
    memorySizeMb: input.memorySizeMb ?? 512,
    batchSize: input.batchSize ?? 10,
    maxBatchingWindowSeconds,
    maxConcurrency: input.maxConcurrency,
    provisionedPollers: input.provisionedPollers,
    visibilityTimeoutSeconds: minimumVisibility({ timeoutSeconds, maxBatchingWindowSeconds }),
    maxMessageBytes: input.maxMessageBytes ?? DEFAULT_MESSAGE_BYTES,
  };
}

/**
 * 256 KiB: SQS's classic limit, and what a consumer can still record, since a DynamoDB item holds 400 KB. A channel
 * whose consumer never stores its messages whole may take more, up to the largest its queue and DLQ can carry.
 */
const DEFAULT_MESSAGE_BYTES = 262_144;

function resolveGuaranteed(input: GuaranteedPolicyInput): GuaranteedPolicy {
  const consumer = consumerDefaults(input);
  const maxAttempts = input.maxAttempts ?? 5;
  return {
    ...consumer,
    kind: 'guaranteed',
    effect: input.effect ?? 'transactional',
    maxAttempts,
    maxReceiveCount: input.maxReceiveCount ?? 4 * maxAttempts,
    visibilityTimeoutSeconds: input.visibilityTimeoutSeconds ?? consumer.visibilityTimeoutSeconds,
    retentionPeriodSeconds: input.retentionPeriodSeconds ?? 4 * 24 * 3600,
    dlqRetentionPeriodSeconds: SQS_MAX_RETENTION_SECONDS,
    backoffBaseSeconds: input.backoffBaseSeconds ?? 2,
    backoffMaxSeconds: input.backoffMaxSeconds ?? 300,
    leaseSeconds: input.leaseSeconds ?? consumer.timeoutSeconds + 10,
    reply: input.reply ?? false,
    fifo: input.fifo ?? false,
  };
}

function resolveFireAndForget(input: FireAndForgetPolicyInput): FireAndForgetPolicy {
  const timeToLiveSeconds = input.timeToLiveSeconds ?? 60;
  return {
    ...consumerDefaults(input),
    kind: 'fire-and-forget',
    timeToLiveSeconds,
    retentionPeriodSeconds: Math.min(Math.max(SQS_MIN_RETENTION_SECONDS, Math.ceil(timeToLiveSeconds)), SQS_MAX_RETENTION_SECONDS),
  };
}

function resolveRequestResponse(input: RequestResponsePolicyInput): RequestResponsePolicy {
  const deadlineMs = input.deadlineMs ?? 3000;
  return {
    kind: 'request-response',
    deadlineMs,
    fallback: input.fallback ?? true,
    hedgeAfterFraction: input.hedgeAfterFraction,
    memorySizeMb: input.memorySizeMb ?? 512,
    timeoutSeconds: Math.max(1, Math.ceil(deadlineMs / 1000)),
  };
}

function violations<P>(policy: P, rules: readonly Rule<P>[]): PolicyViolation[] {
  return rules
    .filter((rule) => !rule.holds(policy))
    .map((rule) => ({ field: rule.field, value: policy[rule.field], rule: rule.rule(policy) }));
}

/**
 * A policy with its defaults applied and no rule checked: what resolvePolicy checks, for whoever must explain a policy
 * that does not resolve (the property test of the rules reads it).
 */
export function policyWithDefaults(input: GuaranteedPolicyInput): GuaranteedPolicy;
export function policyWithDefaults(input: FireAndForgetPolicyInput): FireAndForgetPolicy;
export function policyWithDefaults(input: RequestResponsePolicyInput): RequestResponsePolicy;
export function policyWithDefaults(input: PolicyInput): DeliveryPolicy;
export function policyWithDefaults(input: PolicyInput): DeliveryPolicy {
  switch (input.kind) {
    case 'guaranteed':
      return resolveGuaranteed(input);
    case 'fire-and-forget':
      return resolveFireAndForget(input);
    case 'request-response':
      return resolveRequestResponse(input);
  }
}

/**
 * Applies a policy's defaults and checks every rule, throwing one PolicyError that lists each violation.
 * The result is what constructs deploy and what the runtime reads back from `CHANNEL_POLICY`.
 */
export function resolvePolicy(channel: string, input: GuaranteedPolicyInput): GuaranteedPolicy;
export function resolvePolicy(channel: string, input: FireAndForgetPolicyInput): FireAndForgetPolicy;
export function resolvePolicy(channel: string, input: RequestResponsePolicyInput): RequestResponsePolicy;
export function resolvePolicy(channel: string, input: PolicyInput): DeliveryPolicy;
export function resolvePolicy(channel: string, input: PolicyInput): DeliveryPolicy {
  if (!isChannelName(channel)) {
    throw new PolicyError(channel, [
      { field: 'name', value: channel, rule: 'must start with a lowercase letter and hold only letters and digits (at most 40)' },
    ]);
  }
  switch (input.kind) {
    case 'guaranteed':
      return check(channel, resolveGuaranteed(input), guaranteedRules);
    case 'fire-and-forget':
      return check(channel, resolveFireAndForget(input), fireAndForgetRules);
    case 'request-response':
      return check(channel, resolveRequestResponse(input), requestResponseRules);
    default:
      throw new PolicyError(channel, [
        { field: 'kind', value: (input as { kind: unknown }).kind, rule: "must be 'request-response', 'guaranteed' or 'fire-and-forget'" },
      ]);
  }
}

function check<P>(channel: string, policy: P, rules: readonly Rule<P>[]): P {
  const found = violations(policy, rules);
  if (found.length > 0) throw new PolicyError(channel, found);
  return policy;
}
