import { defineChannel, defineSubscriber, defineTopic } from 'delivery-policies';
import { en } from 'zod/locales';
import * as z from 'zod/mini';

// zod/mini rather than zod: every handler bundles its channel's schema, and the mini build is about 20 KiB where
// classic zod is 440. It carries no messages of its own; English ones make the DLQ reasons and CLI errors readable.
z.config(en());

/**
 * The example application's channels: one per delivery policy, and a topic three of them subscribe to. The stack
 * deploys them, the handlers validate against their schemas, the SDK and CLI validate before sending. Add a channel
 * here, a handler in functions/, and a line in the stack.
 */

/** An order must not be lost; its confirmation can come later (a guaranteed channel with a reply). */
export const orders = defineChannel('orders', {
  policy: { kind: 'guaranteed', effect: 'transactional', reply: true, timeoutSeconds: 10, maxConcurrency: 5 },
  schema: z.object({
    orderId: z.string().check(z.minLength(1), z.maxLength(64)),
    customerId: z.string().check(z.minLength(1), z.maxLength(64)),
    items: z.array(z.object({ sku: z.string().check(z.minLength(1)), quantity: z.int().check(z.positive()) })).check(z.minLength(1), z.maxLength(100)),
  }),
  replySchema: z.object({ orderId: z.string(), confirmation: z.string(), itemCount: z.int() }),
});

/** "Typing…" and lunch invitations: worth something for 30 s, never retried (fire-and-forget). */
export const presence = defineChannel('presence', {
  policy: { kind: 'fire-and-forget', timeToLiveSeconds: 30, timeoutSeconds: 5 },
  schema: z.object({
    userId: z.string().check(z.minLength(1), z.maxLength(64)),
    activity: z.enum(['typing', 'lunch-invitation', 'online']),
    room: z.string().check(z.minLength(1), z.maxLength(64)),
  }),
});

/** A price quote the caller needs now; the fallback answers from a cached price list (request-response). */
export const quotes = defineChannel('quotes', {
  policy: { kind: 'request-response', deadlineMs: 1500, fallback: true },
  schema: z.object({ sku: z.string().check(z.minLength(1), z.maxLength(64)), quantity: z.int().check(z.positive(), z.lte(10_000)) }),
  replySchema: z.object({
    sku: z.string(),
    quantity: z.int(),
    unitPriceCents: z.int(),
    totalCents: z.int(),
    source: z.enum(['live', 'cached-price-list']),
  }),
});

/**
 * An order was placed: announced once, and each service that cares takes it on its own terms (a topic). Messaging
 * need not be point-to-point.
 */
export const orderPlaced = defineTopic('orderPlaced', {
  schema: z.object({
    orderId: z.string().check(z.minLength(1), z.maxLength(64)),
    customerId: z.string().check(z.minLength(1), z.maxLength(64)),
    totalCents: z.int().check(z.nonnegative()),
  }),
});

/** Each invoice enters its customer's ledger exactly once: billing sends it on, committed with the invoice. */
export const ledger = defineChannel('ledger', {
  policy: { kind: 'guaranteed', effect: 'transactional', timeoutSeconds: 10 },
  schema: z.object({ invoiceId: z.string().check(z.minLength(1)), customerId: z.string().check(z.minLength(1)), amountCents: z.int() }),
});

/**
 * Every order is billed exactly once, and its invoice can be read later (a guaranteed subscriber with a reply); the
 * invoice goes on to the ledger.
 */
export const billing = defineSubscriber(orderPlaced, 'billing', {
  policy: { kind: 'guaranteed', effect: 'transactional', reply: true, timeoutSeconds: 10 },
  replySchema: z.object({ invoiceId: z.string(), amountCents: z.int() }),
});

/**
 * Every order is handed to the warehouse to ship (a guaranteed subscriber whose effect is outside the lifecycle
 * transaction: another system's). A crash between the hand-over and its completion repeats it; the warehouse drops
 * the repeat by the event's idempotency key.
 */
export const shipping = defineSubscriber(orderPlaced, 'shipping', {
  policy: { kind: 'guaranteed', effect: 'outside', timeoutSeconds: 10 },
});

/** The sales team hears of orders of 1,000.00 and more while they are news: 5 minutes (fire-and-forget, filtered). */
export const salesAlerts = defineSubscriber(orderPlaced, 'salesAlerts', {
  policy: { kind: 'fire-and-forget', timeToLiveSeconds: 300, timeoutSeconds: 5 },
  filter: { totalCents: [{ numeric: ['>=', 100_000] }] },
});

export const channels = { orders, presence, quotes, billing, shipping, salesAlerts, ledger } as const;
export const topics = { orderPlaced } as const;
export type ChannelName = keyof typeof channels;
