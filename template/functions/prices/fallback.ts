import { responder } from 'delivery-policies/runtime';
import { prices } from '../../lib/channels.ts';

/** Answers when the primary fails or is slow: a fixed price, good enough for now. */
export const handler = responder({ channel: prices, role: 'fallback', handle: async ({ sku }) => ({ sku, cents: 250, source: 'fallback' as const }) });
