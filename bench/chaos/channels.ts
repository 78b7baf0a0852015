import { z } from 'zod';
import { defineChannel } from '../../lib/policy/index.ts';

/** The guaranteed channel under fault injection: short timeouts and backoffs so a run finishes in minutes. */
export const chaos = defineChannel('chaos', {
  policy: { kind: 'guaranteed', timeoutSeconds: 2, backoffBaseSeconds: 1, backoffMaxSeconds: 2, maxAttempts: 5, maxConcurrency: 4 },
  schema: z.object({ id: z.string(), poison: z.boolean(), sentAt: z.number() }),
});

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

export const chaosChannels = { chaos, chaosNotices, chaosQuotes };

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
