import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as mini from 'zod/mini';
import { defineChannel, defineSubscriber, defineTopic, PolicyError, topicCatalogProblem, TOPIC_MAX_MESSAGE_BYTES } from '../../lib/policy/index.ts';

const orderPlaced = defineTopic('orderPlaced', {
  schema: z.object({ orderId: z.string(), totalCents: z.int().nonnegative(), customer: z.object({ tier: z.enum(['gold', 'standard']) }) }),
});

describe('Function: defineTopic', () => {
  it('gives a topic the documented defaults', () => {
    expect(orderPlaced).toMatchObject({ name: 'orderPlaced', fifo: false, maxMessageBytes: TOPIC_MAX_MESSAGE_BYTES });
    expect(TOPIC_MAX_MESSAGE_BYTES).toBe(262_144 - 512);
  });

  it.each([
    ['order-placed', {}, /order-placed: name must start with a lowercase letter/],
    ['big', { maxMessageBytes: 262_144 }, /big: maxMessageBytes must be a whole number from 1024 to 261632: SNS's 262144 bytes .*but 262144 was provided/],
    ['small', { maxMessageBytes: 10 }, /small: maxMessageBytes must be a whole number from 1024/],
  ])('refuses the topic %s %o, naming the field, the value and the rule', (name, spec, message) => {
    expect(() => defineTopic(name, { schema: z.object({}), ...spec })).toThrow(message);
  });
});

describe('Function: defineSubscriber', () => {
  it('makes a channel that takes the topic’s events under its own policy, with the topic’s schema', () => {
    const billing = defineSubscriber(orderPlaced, 'billing', { policy: { kind: 'guaranteed', reply: true }, replySchema: z.object({ invoiceId: z.string() }) });
    expect(billing.schema).toBe(orderPlaced.schema);
    expect(billing.policy).toMatchObject({ kind: 'guaranteed', reply: true, maxAttempts: 5 });
    expect(billing.subscription).toStrictEqual({ topic: 'orderPlaced' });
  });

  it('refuses a request-response subscriber: an event has no caller waiting', () => {
    const subscribe = () => defineSubscriber(orderPlaced, 'pricing', { policy: { kind: 'request-response' } as never });
    expect(subscribe).toThrow(PolicyError);
    expect(subscribe).toThrow(/^pricing: kind cannot subscribe to the topic orderPlaced: an event has no caller waiting/);
  });

  it('holds FIFO topics to FIFO subscribers, and standard topics to standard ones', () => {
    const ledger = defineTopic('ledger', { schema: z.object({ entry: z.string() }), fifo: true });
    expect(() => defineSubscriber(ledger, 'audit', { policy: { kind: 'guaranteed' } })).toThrow(/audit: fifo must be true to subscribe to the FIFO topic ledger/);
    expect(() => defineSubscriber(ledger, 'screen', { policy: { kind: 'fire-and-forget' } })).toThrow(/screen: fifo must be true/);
    expect(() => defineSubscriber(orderPlaced, 'audit', { policy: { kind: 'guaranteed', fifo: true } })).toThrow(/audit: fifo must be false to subscribe to the standard topic orderPlaced/);
    expect(defineSubscriber(ledger, 'audit', { policy: { kind: 'guaranteed', fifo: true } }).subscription).toStrictEqual({ topic: 'ledger' });
  });

  it('refuses a subscriber whose queue would refuse events the topic takes', () => {
    expect(() => defineSubscriber(orderPlaced, 'tiny', { policy: { kind: 'fire-and-forget', maxMessageBytes: 4096 } })).toThrow(
      /tiny: maxMessageBytes must be at least the topic orderPlaced's maxMessageBytes \(261632\), or its queue would refuse events the topic takes, but 4096 was provided/,
    );
  });

  it('takes a filter over the event’s fields, nested ones included', () => {
    const sales = defineSubscriber(orderPlaced, 'sales', { policy: { kind: 'fire-and-forget' }, filter: { totalCents: [{ numeric: ['>=', 10_000] }], customer: { tier: ['gold'] } } });
    expect(sales.subscription).toStrictEqual({ topic: 'orderPlaced', filter: { totalCents: [{ numeric: ['>=', 10_000] }], customer: { tier: ['gold'] } } });
  });

  it.each([
    [{ total: ['x'] }, /filter\.total names no field of the topic orderPlaced's events/],
    [{ customer: { tier: ['platinum'] } }, /filter\.customer\.tier is never a value of this field/],
    [{ totalCents: [] }, /filter\.totalCents must list at least one condition/],
    [{ totalCents: [{ numeric: ['>>', 1] }] }, /filter\.totalCents needs \[operator, number\]/],
    [{ orderId: [{ prefix: 'a', suffix: 'b' }] }, /filter\.orderId must hold exactly one of SNS's operators/],
    [{ orderId: Array.from({ length: 151 }, (_, index) => `o${index}`) }, /filter must have at most 150 combinations/],
  ])('refuses the filter %j, naming the field and the rule', (filter, message) => {
    expect(() => defineSubscriber(orderPlaced, 'sales', { policy: { kind: 'fire-and-forget' }, filter: filter as never })).toThrow(message);
  });

  it('reads the fields of a zod/mini schema too', () => {
    const shipped = defineTopic('shipped', { schema: mini.object({ carrier: mini.enum(['ups', 'dhl']) }) });
    expect(() => defineSubscriber(shipped, 'tracking', { policy: { kind: 'fire-and-forget' }, filter: { carrier: ['fedex' as 'ups'] } })).toThrow(/filter\.carrier is never a value/);
    expect(defineSubscriber(shipped, 'tracking', { policy: { kind: 'fire-and-forget' }, filter: { carrier: ['dhl'] } }).subscription?.filter).toStrictEqual({ carrier: ['dhl'] });
  });
});

describe('Function: topicCatalogProblem', () => {
  const billing = defineSubscriber(orderPlaced, 'billing', { policy: { kind: 'guaranteed' } });
  it('accepts subscribers whose topics are listed', () => {
    expect(topicCatalogProblem({ orderPlaced }, { billing })).toBeUndefined();
  });
  it('names a subscriber whose topic is not listed, a topic under another name, and a forged subscription', () => {
    expect(topicCatalogProblem({}, { billing })).toMatch(/the channel "billing" subscribes to the topic "orderPlaced", which the topics do not list/);
    expect(topicCatalogProblem({ placed: orderPlaced }, {})).toMatch(/the topic entry "placed" holds the topic "orderPlaced"/);
    const forged = { ...defineChannel('forged', { policy: { kind: 'guaranteed' }, schema: z.object({}) }), subscription: { topic: 'orderPlaced' } };
    expect(topicCatalogProblem({ orderPlaced }, { forged })).toMatch(/"forged" does not have the schema of its topic "orderPlaced"/);
  });
});
