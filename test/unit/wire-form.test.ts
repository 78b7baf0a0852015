import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { responder } from '../../functions/runtime/index.ts';
import { prepareOnward } from '../../functions/runtime/onward.ts';
import { check, defineChannel, defineTopic, MessageAttribute, messageBytes, onTheWire, ReplyQueue, SDK_ATTRIBUTE_BYTES } from '../../lib/policy/index.ts';
import { sendReplyNotice } from '../../functions/runtime/reply-notice.ts';
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

describe('Constant: ReplyQueue, the names and addresses of pushed replies\' queues', () => {
  it('keeps a name within SQS\'s 80 characters for any stack name, and two long names apart', () => {
    const long = 'S'.repeat(128);
    for (const stackName of ['App', 'x'.repeat(41), long, `${long.slice(0, 127)}T`]) {
      expect(`${ReplyQueue.prefix(stackName)}${'0'.repeat(ReplyQueue.suffixLength)}`.length).toBeLessThanOrEqual(ReplyQueue.maxNameLength);
    }
    expect(ReplyQueue.prefix('App')).toBe('App_reply_');
    // No stack's name has a '_': a queue CloudFormation names for a stack called App-reply-x is not under App's grant.
    expect('App-reply-x-OrdersQueue4F2A-1B2C3D4E5F'.startsWith(ReplyQueue.prefix('App'))).toBe(false);
    expect(ReplyQueue.prefix(long)).not.toBe(ReplyQueue.prefix(`${long.slice(0, 127)}T`));
  });

  it('takes as a reply queue only the stack\'s prefix and a UUID\'s hex digits, and builds its address beside a queue\'s', () => {
    const suffix = '0123456789abcdef0123456789abcdef';
    expect(ReplyQueue.isNamed(`App_reply_${suffix}`, 'App_reply_')).toBe(true);
    for (const name of [`Other_reply_${suffix}`, `App_reply_${suffix}x`, 'App_reply_', `App_reply_../${suffix.slice(3)}`, `App_reply_${suffix.toUpperCase()}`]) {
      expect(ReplyQueue.isNamed(name, 'App_reply_'), name).toBe(false);
    }
    expect(ReplyQueue.url('https://sqs.eu-west-1.amazonaws.com/123456789012/App-orders', `App_reply_${suffix}`)).toBe(`https://sqs.eu-west-1.amazonaws.com/123456789012/App_reply_${suffix}`);
  });
});

describe('Function: sendReplyNotice, a consumer\'s notice to the caller\'s reply queue', () => {
  const queues = { prefix: 'App_reply_', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/App-orders' };
  const recordNaming = (replyTo?: string) =>
    ({ messageAttributes: replyTo === undefined ? {} : { [MessageAttribute.replyTo]: { dataType: 'String', stringValue: replyTo } } }) as never;
  const notice = { channel: 'orders', correlationId: 'c-1' };

  it('sends only to a reply queue of the stack\'s, at an address it builds, and warns of any other name', async () => {
    const sqs = { send: vi.fn(async () => ({})) };
    const logger = { warn: vi.fn() };
    const name = 'App_reply_0123456789abcdef0123456789abcdef';
    await sendReplyNotice(sqs as never, queues, recordNaming(name), notice, logger as never);
    expect(sqs.send).toHaveBeenCalledOnce();
    expect((sqs.send.mock.calls[0] as unknown as [{ input: unknown }])[0].input).toStrictEqual({ QueueUrl: `https://sqs.eu-west-1.amazonaws.com/123456789012/${name}`, MessageBody: JSON.stringify(notice) });
    // A name of the sender's choosing that is not the stack's (or a URL to another host) gets nothing; no replyTo, no word.
    for (const replyTo of ['Other_reply_0123456789abcdef0123456789abcdef', 'https://attacker.example/App_reply_0123456789abcdef0123456789abcdef']) {
      await sendReplyNotice(sqs as never, queues, recordNaming(replyTo), notice, logger as never);
    }
    await sendReplyNotice(sqs as never, queues, recordNaming(), notice, logger as never);
    await sendReplyNotice(sqs as never, { ...queues, prefix: undefined }, recordNaming(name), notice, logger as never);
    expect(sqs.send).toHaveBeenCalledOnce();
    expect(logger.warn).toHaveBeenCalledTimes(3);
  });

  it('warns, and does not fail the committed message, when the notice cannot be sent', async () => {
    const sqs = { send: vi.fn(async () => Promise.reject(Object.assign(new Error('gone'), { name: 'QueueDoesNotExist' }))) };
    const logger = { warn: vi.fn() };
    await expect(sendReplyNotice(sqs as never, queues, recordNaming('App_reply_0123456789abcdef0123456789abcdef'), notice, logger as never)).resolves.toBeUndefined();
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/reads the reply at its next look/), expect.objectContaining({ error: expect.stringMatching(/gone/) }));
  });
});
