import { z } from 'zod';
import { defineChannel } from 'delivery-policies';

/**
 * The example application's channels: one per delivery policy. The stack deploys them, the handlers validate
 * against their schemas, the SDK and CLI validate before sending. Add a channel here, a handler in functions/,
 * and a line in the stack.
 */

/** An order must not be lost; its confirmation can come later (a guaranteed channel with a reply). */
export const orders = defineChannel('orders', {
  policy: { kind: 'guaranteed', effect: 'transactional', reply: true, timeoutSeconds: 10, maxConcurrency: 5 },
  schema: z.object({
    orderId: z.string().min(1).max(64),
    customerId: z.string().min(1).max(64),
    items: z
      .array(z.object({ sku: z.string().min(1), quantity: z.number().int().positive() }))
      .min(1)
      .max(100),
  }),
  replySchema: z.object({ orderId: z.string(), confirmation: z.string(), itemCount: z.number().int() }),
});

/** "Typing…" and lunch invitations: worth something for 30 s, never retried (fire-and-forget). */
export const presence = defineChannel('presence', {
  policy: { kind: 'fire-and-forget', timeToLiveSeconds: 30, timeoutSeconds: 5 },
  schema: z.object({
    userId: z.string().min(1).max(64),
    activity: z.enum(['typing', 'lunch-invitation', 'online']),
    room: z.string().min(1).max(64),
  }),
});

/** A price quote the caller needs now; the fallback answers from a cached price list (request-response). */
export const quotes = defineChannel('quotes', {
  policy: { kind: 'request-response', deadlineMs: 1500, fallback: true },
  schema: z.object({ sku: z.string().min(1).max(64), quantity: z.number().int().positive().max(10_000) }),
  replySchema: z.object({
    sku: z.string(),
    quantity: z.number().int(),
    unitPriceCents: z.number().int(),
    totalCents: z.number().int(),
    source: z.enum(['live', 'cached-price-list']),
  }),
});

export const channels = { orders, presence, quotes } as const;
export type ChannelName = keyof typeof channels;
