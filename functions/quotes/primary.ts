import { quotes } from '../../lib/channels.ts';
import { responder } from 'delivery-policies/runtime';
import { LIVE_PRICES_CENTS, quoteFrom } from './price-list.ts';

/** Quotes from the live price list; an unknown product is an error the caller sees (and the fallback may answer). */
export const handler = responder({ channel: quotes, role: 'primary', handle: async (request) => quoteFrom(LIVE_PRICES_CENTS, 'live', request) });
