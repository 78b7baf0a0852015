import { quotes } from '../../lib/channels.ts';
import { responder } from '../runtime/index.ts';
import { LIVE_PRICES_CENTS } from '../shared/price-list.ts';

/** Quotes from the live price list; an unknown product is an error the caller sees (and the fallback may answer). */
export const handler = responder({
  channel: quotes,
  role: 'primary',
  handle: async ({ sku, quantity }) => {
    const unitPriceCents = LIVE_PRICES_CENTS[sku];
    if (unitPriceCents === undefined) throw new Error(`no live price for ${sku}`);
    return { sku, quantity, unitPriceCents, totalCents: unitPriceCents * quantity, source: 'live' as const };
  },
});
