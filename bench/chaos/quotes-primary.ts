import { responder } from '../../functions/runtime/index.ts';
import { chaosQuotes } from './channels.ts';

/** The primary fails half of its calls and stalls past the deadline on a tenth. */
export const handler = responder({
  channel: chaosQuotes,
  role: 'primary',
  handle: async ({ id }) => {
    const roll = Math.random();
    if (roll < 0.5) throw new Error('primary fault');
    if (roll < 0.6) await new Promise((resolve) => setTimeout(resolve, 2000));
    return { id, by: 'primary' as const };
  },
});
