import { quotes } from '../../lib/channels.ts';
import { responder } from 'delivery-policies/runtime';
import { CACHED_PRICES_CENTS, quoteFrom } from './price-list.ts';

/** Someone else who is available: answers from the cached price list when the live one fails or is slow. */
export const handler = responder({ channel: quotes, role: 'fallback', handle: async (request) => quoteFrom(CACHED_PRICES_CENTS, 'cached-price-list', request) });
