import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { responder } from '../../functions/runtime/index.ts';
import { prepareOnward } from '../../functions/runtime/onward.ts';
import { check, defineChannel, defineTopic, messageBytes, onTheWire, SDK_ATTRIBUTE_BYTES } from '../../lib/policy/index.ts';
import { traceAttributes } from '../../lib/policy/trace-context.ts';
import { encodePayload } from '../../lib/client/index.ts';

// What travels between a sender and a consumer, or a caller and a responder, is a schema's input as JSON; whoever
// reads it parses it. A schema with a transform then runs it once, on the reading side.
const prices = defineChannel('prices', {
  policy: { kind: 'request-response' },
  schema: z.object({ quantity: z.string().transform(Number) }),
  replySchema: z.object({ cents: z.string().transform(Number) }),
});

describe('Function: the wire form of a request and its answer', () => {
  it('sends the request as given, and the responder hands its handler the output', async () => {
    const body = encodePayload(prices, { quantity: '3' });
    expect(JSON.parse(body)).toStrictEqual({ quantity: '3' });
    const seen: unknown[] = [];
    const handler = responder({ channel: prices, role: 'primary', handle: async ({ quantity }) => (seen.push(quantity), { cents: String(quantity * 100) }) });

    // WHEN the responder answers THEN its answer is the reply schema's input, which the caller's SDK parses to the output
    const answer = await handler(JSON.parse(body));
    expect(seen).toStrictEqual([3]);
    expect(answer).toStrictEqual({ cents: '300' });
    expect(check(prices.replySchema, JSON.parse(JSON.stringify(answer)))).toStrictEqual({ success: true, data: { cents: 300 } });
  });

  it('refuses what would not survive JSON, and what is not JSON at all', () => {
    const dated = z.object({ at: z.date() });
    expect(onTheWire(dated, { at: new Date() })).toMatchObject({ success: false, issues: expect.stringMatching(/^at: /) });
    expect(onTheWire(dated, { at: 10n })).toMatchObject({ success: false, issues: expect.stringMatching(/cannot be written as JSON/) });
    expect(onTheWire(z.object({ n: z.number() }), { n: 1 })).toStrictEqual({ success: true, json: '{"n":1}', value: { n: 1 } });
  });
});

describe("Constant: SDK_ATTRIBUTE_BYTES, the room a queue's and a topic's size limit keep for the library's attributes", () => {
  it('holds the longest attributes an onward message carries, to a fire-and-forget channel and to a topic', () => {
    // GIVEN a cause whose correlation id and flow are as long as a key may be, with a trace
    const longest = 'k'.repeat(128);
    const cause = {
      channel: 'billing',
      correlationId: longest,
      flowId: longest,
      trace: traceAttributes({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }),
    };
    const alerts = defineChannel('alerts', { policy: { kind: 'fire-and-forget', timeToLiveSeconds: 60 }, schema: z.object({}) });
    const placed = defineTopic('placed', { schema: z.object({}) });
    // WHEN its onward messages are prepared THEN their attributes fit the room kept for them
    const messages = prepareOnward({ send: [{ channel: 'alerts', payload: {} }], publish: [{ topic: 'placed', event: {} }] }, { channels: { alerts }, topics: { placed } }, cause, Date.now());
    const sizes = messages.map((message) => messageBytes('', message.attributes));
    expect(sizes.every((bytes) => bytes <= SDK_ATTRIBUTE_BYTES), `attribute bytes: ${sizes.join(', ')}`).toBe(true);
    expect(Math.max(...sizes)).toBeGreaterThan(256); // what the room was before flows and traces: too small
  });
});
