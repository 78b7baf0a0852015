import { describe, expect, it } from 'vitest';
import { backoffSeconds, longestHealthyWaitSeconds, PolicyError, resolvePolicy, type PolicyInput } from '../../lib/policy/index.ts';

describe('Function: resolvePolicy defaults', () => {
  it('gives a guaranteed channel the documented defaults', () => {
    expect(resolvePolicy('orders', { kind: 'guaranteed' })).toStrictEqual({
      kind: 'guaranteed',
      effect: 'transactional',
      timeoutSeconds: 30,
      memorySizeMb: 512,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: undefined,
      provisionedPollers: undefined,
      maxAttempts: 5,
      maxReceiveCount: 20,
      visibilityTimeoutSeconds: 180,
      retentionPeriodSeconds: 345_600,
      dlqRetentionPeriodSeconds: 1_209_600,
      backoffBaseSeconds: 2,
      backoffMaxSeconds: 300,
      leaseSeconds: 40,
      reply: false,
      fifo: false,
      maxMessageBytes: 262_144,
    });
  });

  it('gives fire-and-forget the shortest retention that covers its time to live', () => {
    expect(resolvePolicy('presence', { kind: 'fire-and-forget', timeToLiveSeconds: 30 })).toMatchObject({ retentionPeriodSeconds: 60, timeToLiveSeconds: 30 });
    expect(resolvePolicy('digest', { kind: 'fire-and-forget', timeToLiveSeconds: 7200 })).toMatchObject({ retentionPeriodSeconds: 7200 });
  });

  it('sizes request-response timeouts from the deadline', () => {
    expect(resolvePolicy('quotes', { kind: 'request-response', deadlineMs: 1500 })).toStrictEqual({
      kind: 'request-response',
      deadlineMs: 1500,
      fallback: true,
      hedgeAfterFraction: undefined,
      memorySizeMb: 512,
      timeoutSeconds: 2,
    });
  });
});

// Every rule, the value that breaks it and the words that must name it.
const violations: [string, PolicyInput, RegExp][] = [
  ['timeout range', { kind: 'guaranteed', timeoutSeconds: 901 }, /^orders: timeoutSeconds must be a whole number from 1 to 900, but 901 was provided$/],
  ['memory range', { kind: 'guaranteed', memorySizeMb: 64 }, /^orders: memorySizeMb must be a whole number from 128 to 10240, but 64 was provided$/],
  ['batching window range', { kind: 'guaranteed', maxBatchingWindowSeconds: 301 }, /^orders: maxBatchingWindowSeconds must be a whole number from 0 to 300, but 301/m],
  ['maxConcurrency floor', { kind: 'guaranteed', maxConcurrency: 1 }, /^orders: maxConcurrency must be a whole number from 2 to 1000, but 1 was provided$/],
  ['FIFO batch size', { kind: 'guaranteed', fifo: true, batchSize: 11 }, /^orders: batchSize must be a whole number from 1 to 10 for a FIFO queue, but 11 was provided$/m],
  ['large batch needs a window', { kind: 'guaranteed', batchSize: 100 }, /^orders: batchSize above 10 needs maxBatchingWindowSeconds of at least 1 \(a Lambda rule\), but 100 was provided$/],
  ['visibility below 6 × timeout + window', { kind: 'guaranteed', timeoutSeconds: 30, maxBatchingWindowSeconds: 10, visibilityTimeoutSeconds: 30 }, /^orders: visibilityTimeoutSeconds must be at least 6 × timeout \+ batching window \(190\), .* but 30 was provided$/],
  ['visibility above SQS maximum', { kind: 'guaranteed', visibilityTimeoutSeconds: 50_000 }, /^orders: visibilityTimeoutSeconds must be a whole number from 0 to 43200, but 50000/],
  ['effect kind', { kind: 'guaranteed', effect: 'magic' as never }, /^orders: effect must be 'transactional' or 'outside', but "magic" was provided$/],
  ['attempt budget', { kind: 'guaranteed', maxAttempts: 0 }, /^orders: maxAttempts must be a whole number from 1 to 100, but 0 was provided$/m],
  ['receive count', { kind: 'guaranteed', maxReceiveCount: 1001 }, /^orders: maxReceiveCount must be a whole number from 2 to 1000, but 1001 was provided$/],
  ['receive backstop above the attempt budget', { kind: 'guaranteed', maxAttempts: 5, maxReceiveCount: 5 }, /^orders: maxReceiveCount must be above maxAttempts \(5\): it is the backstop behind the runtime's attempt budget, .* but 5 was provided$/],
  ['FIFO takes no batching window', { kind: 'guaranteed', fifo: true, maxBatchingWindowSeconds: 1 }, /^orders: maxBatchingWindowSeconds must be 0 for a FIFO channel: Lambda rejects a batching window on a FIFO queue mapping, but 1 was provided$/],
  ['backoff past 12 h from the receipt', { kind: 'guaranteed', timeoutSeconds: 60, backoffMaxSeconds: 43_200 }, /^orders: backoffMaxSeconds must be at most 43140 \(SQS's 12-hour visibility limit from the receipt, less the function's timeout of 60\), but 43200 was provided$/m],
  ['lease past 12 h from the receipt', { kind: 'guaranteed', timeoutSeconds: 60, leaseSeconds: 43_200 }, /^orders: leaseSeconds must be at most 43140 /],
  ['retention range', { kind: 'guaranteed', retentionPeriodSeconds: 30 }, /^orders: retentionPeriodSeconds must be a whole number from 60 to 1209600, but 30 was provided$/m],
  ['DLQ outlives the queue', { kind: 'guaranteed', retentionPeriodSeconds: 1_209_600 }, /^orders: retentionPeriodSeconds must be shorter than the DLQ's retention \(1209600\), because a standard DLQ keeps the original enqueue time/],
  ['backoff cap below base', { kind: 'guaranteed', backoffBaseSeconds: 10, backoffMaxSeconds: 5 }, /^orders: backoffMaxSeconds must be at least backoffBaseSeconds \(10\), but 5 was provided$/],
  ['backoff above visibility limit', { kind: 'guaranteed', backoffMaxSeconds: 50_000 }, /^orders: backoffMaxSeconds must be a whole number from 1 to 43200, but 50000/m],
  ['lease shorter than the timeout', { kind: 'guaranteed', timeoutSeconds: 30, leaseSeconds: 30 }, /^orders: leaseSeconds must be a whole number longer than the function's timeout \(30\), or a live attempt could be overtaken, but 30 was provided$/],
  // The issue's two policies that lost messages: SQS deleted them while they were still being retried.
  ['retention shorter than a visibility timeout', { kind: 'guaranteed', retentionPeriodSeconds: 120, timeoutSeconds: 30 }, /^orders: retentionPeriodSeconds must cover every receive the policy allows \(20, each hiding the message for up to 330 s: 6600 s\) and an hour for the alarms to be acted on \(10200 in all\), or SQS deletes a message still being retried, with no DLQ copy, but 120 was provided$/],
  ['retention shorter than the retries', { kind: 'guaranteed', maxAttempts: 30, backoffMaxSeconds: 43_000, retentionPeriodSeconds: 86_400 }, /^orders: retentionPeriodSeconds must cover every receive the policy allows \(120, each hiding the message for up to 43030 s: 5163600 s\)/m],
  ['message size above what a DLQ copy can carry', { kind: 'guaranteed', maxMessageBytes: 1_048_576 }, /^orders: maxMessageBytes must be a whole number from 1024 to 1031680: SQS's 1048576 bytes less the SDK's attributes and what the runtime adds to a message's DLQ copy \(its reason\), so that every message the queue takes fits its DLQ, but 1048576 was provided$/],
  ['message size below SQS minimum', { kind: 'fire-and-forget', maxMessageBytes: 100 }, /^orders: maxMessageBytes must be a whole number from 1024 to 1048064: SQS's 1048576 bytes less the SDK's attributes, but 100 was provided$/],
  ['time to live range', { kind: 'fire-and-forget', timeToLiveSeconds: 0 }, /^orders: timeToLiveSeconds must be a whole number from 1 to 1209600, but 0 was provided$/],
  ['deadline range', { kind: 'request-response', deadlineMs: 50 }, /^orders: deadlineMs must be a whole number from 100 to 900000, but 50 was provided$/],
  ['hedge fraction range', { kind: 'request-response', hedgeAfterFraction: 1 }, /^orders: hedgeAfterFraction must be between 0 and 1 \(exclusive\)/],
  ['hedging needs a fallback', { kind: 'request-response', fallback: false, hedgeAfterFraction: 0.5 }, /^orders: hedgeAfterFraction needs fallback: true, since hedging asks the fallback, but 0.5 was provided$/],
  ['unknown kind', { kind: 'carrier-pigeon' } as never, /^orders: kind must be 'request-response', 'guaranteed' or 'fire-and-forget', but "carrier-pigeon" was provided$/],
];

describe('Function: resolvePolicy rules', () => {
  it.each(violations)('rejects %s, naming the channel, field, value and rule', (_rule, input, message) => {
    expect(() => resolvePolicy('orders', input)).toThrow(PolicyError);
    expect(() => resolvePolicy('orders', input)).toThrow(message);
  });

  it('collects every violation into one error', () => {
    try {
      resolvePolicy('orders', { kind: 'guaranteed', timeoutSeconds: 0, maxAttempts: 101, visibilityTimeoutSeconds: 1 });
      expect.unreachable('resolvePolicy accepted an impossible policy');
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      expect((error as PolicyError).violations.map((v) => v.field)).toStrictEqual(['timeoutSeconds', 'maxAttempts']);
      expect((error as PolicyError).code).toBe('INVALID_POLICY');
    }
  });

  it.each(['Orders', 'order-events', '1orders', ''])('rejects the channel name %j', (name) => {
    expect(() => resolvePolicy(name, { kind: 'guaranteed' })).toThrow(/name must start with a lowercase letter and hold only letters and digits/);
  });
});

describe('Function: backoffSeconds', () => {
  const policy = { backoffBaseSeconds: 2, backoffMaxSeconds: 30 };

  it('doubles per attempt and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((attempt) => backoffSeconds(policy, attempt))).toStrictEqual([2, 4, 8, 16, 30, 30, 30]);
  });

  it('sums the backoffs before the last attempt plus one visibility timeout as the longest healthy wait', () => {
    expect(longestHealthyWaitSeconds({ ...policy, maxAttempts: 5, visibilityTimeoutSeconds: 60 })).toBe(60 + 2 + 4 + 8 + 16);
  });
});
