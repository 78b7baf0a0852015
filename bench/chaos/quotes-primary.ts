import { policyFromEnv, responder } from '../../functions/runtime/index.ts';
import type { RequestResponsePolicy } from '../../lib/policy/index.ts';
import { chaosQuotes } from './channels.ts';

/** The deadline deployed next to this function (a run may override the catalog's); a stall lasts twice as long. */
const { deadlineMs } = policyFromEnv(chaosQuotes) as RequestResponsePolicy;

/** The primary fails half of its calls and stalls far past the deadline on a tenth. */
export const handler = responder({
  channel: chaosQuotes,
  role: 'primary',
  handle: async ({ id }) => {
    const roll = Math.random();
    if (roll < 0.5) throw new Error('primary fault');
    if (roll < 0.6) await new Promise((resolve) => setTimeout(resolve, 2 * deadlineMs));
    return { id, by: 'primary' as const };
  },
});
