import { responder } from 'delivery-policies/runtime';
import { prices } from '../../lib/channels.ts';

/** The live price; an unknown product is an error, and the fallback answers instead. */
export const handler = responder({
  channel: prices,
  role: 'primary',
  handle: async ({ sku }) => {
    if (sku.startsWith('unknown')) throw new Error(`no live price for ${sku}`);
    return { sku, cents: 199, source: 'primary' as const };
  },
});
