import { z } from 'zod';
import { defineChannel, defineSubscriber, defineTopic } from '../../lib/policy/index.ts';

/** A guaranteed chaos message: its id, whether it is poison, when it was sent, and for FIFO its group and place. */
const chaosMessage = z.object({ id: z.string(), poison: z.boolean(), sentAt: z.number(), group: z.string().optional(), seq: z.number().optional() });

/** Short timeouts and backoffs so a run finishes in minutes. */
const underFaults = { kind: 'guaranteed', timeoutSeconds: 1, backoffBaseSeconds: 1, backoffMaxSeconds: 2, maxAttempts: 5, maxConcurrency: 4 } as const;

/** The effect is a counter in the runtime's transaction: applied exactly once or not at all. */
export const chaosTransactional = defineChannel('chaosTransactional', { policy: underFaults, schema: chaosMessage });

/**
 * The effect is a write the runtime's transaction cannot cover, as a call to another service would be: it may repeat
 * when an instance dies between the effect and its completion. The reply names the attempt that completed.
 */
export const chaosOutside = defineChannel('chaosOutside', {
  policy: { ...underFaults, effect: 'outside', leaseSeconds: 4, reply: true },
  schema: chaosMessage,
  replySchema: z.object({ effect: z.string() }),
});

/** Transactional effects on a FIFO queue: applied in each group's order. */
export const chaosFifo = defineChannel('chaosFifo', { policy: { ...underFaults, fifo: true }, schema: chaosMessage });

/**
 * A flow of three hops: chaos messages published to a topic, taken by a transactional subscriber that sends each on
 * to the ledger, committed with its effect; its onward sends meet faults and crashes too (flow.ts).
 */
export const chaosPlaced = defineTopic('chaosPlaced', { schema: chaosMessage });
export const chaosFlow = defineSubscriber(chaosPlaced, 'chaosFlow', { policy: underFaults });
export const chaosLedger = defineChannel('chaosLedger', { policy: underFaults, schema: chaosMessage });
/** The topic's outside-effect subscriber, under the outside channel's faults (outside.ts). */
export const chaosShipping = defineSubscriber(chaosPlaced, 'chaosShipping', {
  policy: { ...underFaults, effect: 'outside', leaseSeconds: 4, reply: true },
  replySchema: z.object({ effect: z.string() }),
});
/** The topic's fire-and-forget subscriber: takes what it is given, keeps no record. */
export const chaosAnnounced = defineSubscriber(chaosPlaced, 'chaosAnnounced', { policy: { kind: 'fire-and-forget', timeToLiveSeconds: 600, timeoutSeconds: 2 } });

/** Fire-and-forget notices with a one-second life. */
export const chaosNotices = defineChannel('chaosNotices', {
  policy: { kind: 'fire-and-forget', timeToLiveSeconds: 1, timeoutSeconds: 2 },
  schema: z.object({ id: z.string() }),
});

/** The quotes deadline of npm run test:chaos: tight, as a latency-bound service would set it. */
export const DEFAULT_QUOTES_DEADLINE_MS = 1000;

/**
 * A quote whose primary fails half the time and stalls a tenth of it, with the given deadline. The deployed
 * functions learn the deadline from the policy the Responder construct deploys (CHANNEL_POLICY), so a run may
 * synthesize the app with another deadline under the same channel name, and give its client the same definition.
 */
export function quotesChannel(deadlineMs: number) {
  return defineChannel('chaosQuotes', {
    policy: { kind: 'request-response', deadlineMs, fallback: true },
    schema: z.object({ id: z.string() }),
    replySchema: z.object({ id: z.string(), by: z.enum(['primary', 'fallback']) }),
  });
}

export const chaosQuotes = quotesChannel(DEFAULT_QUOTES_DEADLINE_MS);

/** The guaranteed channel of each kind the run covers. */
export const guaranteedChannels = { transactional: chaosTransactional, outside: chaosOutside, fifo: chaosFifo, flow: chaosFlow, shipping: chaosShipping, ledger: chaosLedger } as const;
export type GuaranteedKind = keyof typeof guaranteedChannels;

export const chaosChannels = { chaosTransactional, chaosOutside, chaosFifo, chaosFlow, chaosShipping, chaosLedger, chaosAnnounced, chaosNotices, chaosQuotes };
export const chaosTopics = { chaosPlaced };

/** The fault mix, read by the handlers from the state table so a run can switch faults off before its redrive. */
export interface FaultMix {
  readonly enabled: boolean;
  /** Share of attempts that fail with a transient error. */
  readonly transient: number;
  /** Share of attempts that run past the function's timeout. */
  readonly slow: number;
  /** Share of attempts that crash the instance mid-batch. */
  readonly crash: number;
}

export const FAULT_SWITCH_KEY = { pk: 'chaos#faults', sk: 'switch' } as const;

/** Where the harness reads what the handlers did: one counter per message, one order list per FIFO group. */
export const ChaosKeys = {
  applied: (id: string) => ({ pk: `applied#${id}`, sk: 'count' }),
  group: (group: string) => ({ pk: `group#${group}`, sk: 'order' }),
  /** The deliveries (message ids) an invocation reported failed: the runtime gave up on them, maybe mid-effect. */
  unfinished: (invocation: string) => ({ pk: `unfinished#${invocation}`, sk: 'deliveries' }),
} as const;
