import { onTheWire, type Catalog, type ChannelDefinition, type PolicyKind, type Schema } from '../policy/index.ts';
import { MessageTooLarge, SchemaViolation, UnknownChannel, WrongPolicy } from './errors.ts';

/** Lambda's limit on a synchronous invocation's payload: what a request-response channel takes. */
const INVOKE_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

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

/**
 * The body to send for a payload: its JSON, checked as the consumer will check it (see onTheWire), within the
 * channel's size limit. What goes is the schema's input; its transforms run once, on the consumer's side.
 */
export function encodePayload(channel: ChannelDefinition, payload: unknown): string {
  const wire = onTheWire(channel.schema, payload);
  if (!wire.success) throw new SchemaViolation(`${channel.name}: the payload breaks the channel's schema: ${wire.issues}`);
  const bytes = Buffer.byteLength(wire.json, 'utf8');
  const limit = channel.policy.kind === 'request-response' ? INVOKE_MAX_PAYLOAD_BYTES : channel.policy.maxMessageBytes;
  if (bytes > limit) {
    const whose = channel.policy.kind === 'request-response' ? "Lambda's limit for a synchronous invocation" : "the channel's maxMessageBytes";
    throw new MessageTooLarge(`${channel.name}: the message is ${bytes} bytes, over ${whose} (${limit})`);
  }
  return wire.json;
}
