import { quotes } from '../../lib/channels.ts';
import { responder } from '../runtime/index.ts';
import { CACHED_PRICES_CENTS } from '../shared/price-list.ts';

/** Someone else who is available: answers from the cached price list when the live one fails or is slow. */
export const handler = responder({
  channel: quotes,
  role: 'fallback',
  handle: async ({ sku, quantity }) => {
    const unitPriceCents = CACHED_PRICES_CENTS[sku];
    if (unitPriceCents === undefined) throw new Error(`no cached price for ${sku}`);
    return { sku, quantity, unitPriceCents, totalCents: unitPriceCents * quantity, source: 'cached-price-list' as const };
  },
});
