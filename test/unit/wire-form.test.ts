import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { responder } from '../../functions/runtime/index.ts';
import { check, defineChannel, onTheWire } from '../../lib/policy/index.ts';
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
