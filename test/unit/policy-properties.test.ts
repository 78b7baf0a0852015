import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALARM_LEAD_SECONDS,
  DEAD_LETTER_COPY_RESERVE_BYTES,
  longestHealthyWaitSeconds,
  PolicyError,
  policyWithDefaults,
  resolvePolicy,
  SDK_ATTRIBUTE_BYTES,
  SQS_MAX_MESSAGE_BYTES,
  SQS_MAX_VISIBILITY_SECONDS,
  type FireAndForgetPolicy,
  type GuaranteedPolicy,
  type GuaranteedPolicyInput,
} from '../../lib/policy/index.ts';

/**
 * The rules of the policy model against a specification written here, apart from them, of what a policy must keep for
 * no message to be lost: over every knob, a policy that resolves keeps each invariant, and a policy whose defaults break
 * one does not resolve, with an error naming the channel, the field, the value and the rule. POLICY_RUNS sets the number
 * of policies (npm run test:properties runs many more); POLICY_SEED replays a failure (fast-check prints its seed).
 */
const RUNS = Number(process.env.POLICY_RUNS ?? 300);
const SEED = process.env.POLICY_SEED === undefined ? undefined : Number(process.env.POLICY_SEED);

/** The longest any receive can hide a message: a visibility timeout, or a whole attempt followed by its longest delay. */
const longestReceive = (p: GuaranteedPolicy) =>
  Math.max(p.visibilityTimeoutSeconds, p.maxBatchingWindowSeconds + p.timeoutSeconds + Math.max(p.backoffMaxSeconds, p.effect === 'outside' ? p.leaseSeconds : 0));

/** What a guaranteed policy must keep, each invariant with the fields whose values decide it. */
const guaranteedInvariants: { readonly name: string; readonly fields: readonly (keyof GuaranteedPolicy)[]; readonly holds: (p: GuaranteedPolicy) => boolean }[] = [
  {
    name: 'SQS keeps a message through every receive its redrive backstop allows, and an hour past it',
    fields: ['retentionPeriodSeconds'],
    holds: (p) => p.retentionPeriodSeconds >= p.maxReceiveCount * longestReceive(p) + ALARM_LEAD_SECONDS,
  },
  {
    name: 'the age alarms fire at least an hour before SQS deletes the message',
    // Kept by the rule above, as long as the backstop is above the attempt budget: attempts are receives.
    fields: ['retentionPeriodSeconds', 'maxReceiveCount'],
    holds: (p) => Math.max(60, longestHealthyWaitSeconds(p)) + ALARM_LEAD_SECONDS <= p.retentionPeriodSeconds,
  },
  { name: 'the DLQ outlives the queue', fields: ['retentionPeriodSeconds'], holds: (p) => p.retentionPeriodSeconds < p.dlqRetentionPeriodSeconds },
  {
    name: 'a message is not redelivered while Lambda still holds it',
    fields: ['visibilityTimeoutSeconds'],
    holds: (p) => p.visibilityTimeoutSeconds >= 6 * p.timeoutSeconds + p.maxBatchingWindowSeconds && p.visibilityTimeoutSeconds <= SQS_MAX_VISIBILITY_SECONDS,
  },
  {
    name: 'every delay set at the end of an attempt fits in SQS\'s 12 hours from the receipt',
    fields: ['backoffMaxSeconds', 'leaseSeconds', 'backoffBaseSeconds'],
    holds: (p) =>
      p.backoffBaseSeconds >= 1 && p.backoffBaseSeconds <= p.backoffMaxSeconds &&
      p.backoffMaxSeconds + p.timeoutSeconds <= SQS_MAX_VISIBILITY_SECONDS && p.leaseSeconds + p.timeoutSeconds <= SQS_MAX_VISIBILITY_SECONDS,
  },
  { name: 'a live attempt is never overtaken by another delivery', fields: ['leaseSeconds'], holds: (p) => p.leaseSeconds > p.timeoutSeconds },
  { name: 'SQS never dead-letters a message the runtime still counts', fields: ['maxReceiveCount'], holds: (p) => p.maxReceiveCount > p.maxAttempts },
  {
    name: 'a copy of any message the queue takes fits its DLQ',
    fields: ['maxMessageBytes'],
    holds: (p) => p.maxMessageBytes >= 1024 && p.maxMessageBytes + SDK_ATTRIBUTE_BYTES + DEAD_LETTER_COPY_RESERVE_BYTES <= SQS_MAX_MESSAGE_BYTES,
  },
  { name: 'Lambda takes the mapping (FIFO: no batching window, at most 10)', fields: ['maxBatchingWindowSeconds', 'batchSize'], holds: (p) => !p.fifo || (p.maxBatchingWindowSeconds === 0 && p.batchSize <= 10) },
  { name: 'Lambda takes the mapping (a batch above 10 needs a window)', fields: ['batchSize'], holds: (p) => p.batchSize <= 10 || p.maxBatchingWindowSeconds > 0 },
];

/** Each knob drawn around its limits: mostly where a policy lives, sometimes past the edge, sometimes absent. */
const seconds = (max: number) => fc.option(fc.oneof(fc.integer({ min: 1, max: Math.min(max, 600) }), fc.integer({ min: 0, max })), { nil: undefined, freq: 2 });
const guaranteedInput: fc.Arbitrary<GuaranteedPolicyInput> = fc.record(
  {
    kind: fc.constant('guaranteed' as const),
    effect: fc.constantFrom('transactional' as const, 'outside' as const),
    fifo: fc.boolean(),
    timeoutSeconds: fc.option(fc.integer({ min: 1, max: 900 }), { nil: undefined, freq: 2 }),
    maxBatchingWindowSeconds: fc.option(fc.constantFrom(0, 1, 5, 30, 300), { nil: undefined, freq: 2 }),
    batchSize: fc.option(fc.constantFrom(1, 5, 10, 11, 100), { nil: undefined, freq: 2 }),
    maxAttempts: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined, freq: 2 }),
    maxReceiveCount: fc.option(fc.integer({ min: 2, max: 1000 }), { nil: undefined, freq: 2 }),
    visibilityTimeoutSeconds: seconds(43_200),
    retentionPeriodSeconds: fc.option(fc.oneof(fc.integer({ min: 60, max: 1_209_600 }), fc.constantFrom(60, 3600, 86_400, 345_600, 1_209_599)), { nil: undefined, freq: 2 }),
    backoffBaseSeconds: seconds(600),
    backoffMaxSeconds: seconds(43_200),
    leaseSeconds: seconds(43_200),
    maxMessageBytes: fc.option(fc.oneof(fc.integer({ min: 1024, max: SQS_MAX_MESSAGE_BYTES }), fc.constantFrom(1023, 262_144, 1_031_680, 1_031_681)), { nil: undefined, freq: 2 }),
  },
  { requiredKeys: ['kind'] },
);

const violationLine = /^orders: (\w+) .+, but .+ was provided$/;

describe('Property: every guaranteed policy that resolves keeps what guarantees its messages; every other fails', () => {
  it('holds over every knob', () => {
    let resolvedCount = 0;
    fc.assert(
      fc.property(guaranteedInput, (input) => {
        const withDefaults = policyWithDefaults(input);
        const broken = guaranteedInvariants.filter((invariant) => !invariant.holds(withDefaults));
        let resolved: GuaranteedPolicy | undefined;
        let error: unknown;
        try {
          resolved = resolvePolicy('orders', input);
        } catch (caught) {
          error = caught;
        }
        if (resolved) {
          // THEN it keeps every invariant
          expect(broken.map((invariant) => invariant.name)).toStrictEqual([]);
          resolvedCount += 1;
          return;
        }
        // THEN it failed as a policy error, each line naming the channel, a field, its value and the rule
        expect(error).toBeInstanceOf(PolicyError);
        const lines = (error as PolicyError).message.split('\n');
        for (const line of lines) expect(line).toMatch(violationLine);
        // AND each invariant it breaks is named by one of its fields
        const named = new Set(lines.map((line) => violationLine.exec(line)![1]));
        for (const invariant of broken) expect(invariant.fields.some((field) => named.has(field)), invariant.name).toBe(true);
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    // Both sides were explored: the property does not hold by refusing everything.
    expect(resolvedCount).toBeGreaterThan(RUNS / 10);
  });

  it('lets the defaults and the example policies resolve ', () => {
    for (const input of [{}, { effect: 'outside' }, { fifo: true }, { timeoutSeconds: 10, reply: true, maxConcurrency: 5 }] as const) {
      expect(() => resolvePolicy('orders', { kind: 'guaranteed', ...input })).not.toThrow();
    }
  });
});

describe('Property: every fire-and-forget policy that resolves keeps a message until its time to live and fits its queue', () => {
  it('holds over every knob', () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constant('fire-and-forget' as const),
          timeToLiveSeconds: fc.option(fc.integer({ min: 0, max: 1_300_000 }), { nil: undefined, freq: 2 }),
          timeoutSeconds: fc.option(fc.integer({ min: 1, max: 900 }), { nil: undefined, freq: 2 }),
          maxMessageBytes: fc.option(fc.integer({ min: 1000, max: SQS_MAX_MESSAGE_BYTES }), { nil: undefined, freq: 2 }),
        }, { requiredKeys: ['kind'] }),
        (input) => {
          let resolved: FireAndForgetPolicy | undefined;
          try {
            resolved = resolvePolicy('orders', input);
          } catch (error) {
            expect(error).toBeInstanceOf(PolicyError);
            for (const line of (error as PolicyError).message.split('\n')) expect(line).toMatch(violationLine);
            return;
          }
          expect(resolved.retentionPeriodSeconds).toBeGreaterThanOrEqual(resolved.timeToLiveSeconds);
          expect(resolved.maxMessageBytes + SDK_ATTRIBUTE_BYTES).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
        },
      ),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
