import { check, DEAD_LETTER_ATTRIBUTE_BYTES, SQS_MAX_MESSAGE_BYTES, type Catalog, type ChannelDefinition, type PolicyKind, type Schema } from '../policy/index.ts';
import { MessageTooLarge, SchemaViolation, UnknownChannel, WrongPolicy } from './errors.ts';

/**
 * Room kept below SQS's limit: the SDK's own attributes (correlationId, sentAt, expiresAt), and what the runtime adds
 * to a DLQ copy (the reason and the attempt count), so that every message the SDK sends also fits its DLQ.
 */
const ATTRIBUTE_ALLOWANCE_BYTES = 256 + DEAD_LETTER_ATTRIBUTE_BYTES;

/** What a call does with a channel, and the policies that allow it. */
const USES = {
  send: { kinds: ['guaranteed', 'fire-and-forget'], otherwise: 'use request, not send' },
  request: { kinds: ['request-response'], otherwise: 'use send, not request' },
  reply: { kinds: ['guaranteed'], otherwise: 'only guaranteed channels keep replies' },
  deadLetters: { kinds: ['guaranteed'], otherwise: 'it has no DLQ' },
} as const satisfies Record<string, { kinds: readonly PolicyKind[]; otherwise: string }>;

/**
 * The channel a call names, checked against the catalog alone: these checks need no endpoint, so a mistake fails
 * before any discovery, offline, with the code that says what is wrong.
 */
export function channelFor<Use extends keyof typeof USES>(
  channels: Catalog,
  name: string,
  use: Use,
): ChannelDefinition<Schema, Schema | undefined, (typeof USES)[Use]['kinds'][number]>;
export function channelFor(channels: Catalog, name: string): ChannelDefinition;
export function channelFor(channels: Catalog, name: string, use?: keyof typeof USES): ChannelDefinition {
  const channel = Object.hasOwn(channels, name) ? channels[name] : undefined;
  if (!channel) throw new UnknownChannel(name, Object.keys(channels));
  if (use && !(USES[use].kinds as readonly PolicyKind[]).includes(channel.policy.kind)) {
    throw new WrongPolicy(`${name} is a ${channel.policy.kind} channel: ${USES[use].otherwise}`);
  }
  return channel;
}

/** Checks a payload against the channel's schema and SQS's size limit, returning the body to send. */
export function encodePayload(channel: ChannelDefinition, payload: unknown): string {
  const checked = check(channel.schema, payload);
  if (!checked.success) throw new SchemaViolation(`${channel.name}: the payload breaks the channel's schema: ${checked.issues}`);
  const body = JSON.stringify(checked.data);
  const bytes = Buffer.byteLength(body, 'utf8') + ATTRIBUTE_ALLOWANCE_BYTES;
  if (bytes > SQS_MAX_MESSAGE_BYTES) {
    throw new MessageTooLarge(`${channel.name}: the message is ${bytes} bytes with its attributes, over SQS's ${SQS_MAX_MESSAGE_BYTES}`);
  }
  return body;
}
