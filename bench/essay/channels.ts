import { z } from 'zod';
import { defineChannel, type ChannelDefinition } from '../../lib/policy/index.ts';

/**
 * The essay's caller needs three services. Each exists twice: as a request-response channel (called and
 * waited for) and as a guaranteed channel with a reply (sent, answered later). Same work either way.
 */
export const SERVICES = ['inventory', 'payment', 'shipping'] as const;
export const SERVICE_WORK_MS = 150;

/** workMs: a service that takes longer than the essay's, to show how late a polled reply is seen. */
const request = z.object({ orderId: z.string(), workMs: z.optional(z.int().check(z.nonnegative(), z.lte(4000))) });
const reply = z.object({ service: z.string(), orderId: z.string() });

const syncChannel = (service: string) =>
  defineChannel(`${service}Sync`, { policy: { kind: 'request-response', deadlineMs: 5000, fallback: false }, schema: request, replySchema: reply });
const asyncChannel = (service: string) =>
  defineChannel(`${service}Async`, { policy: { kind: 'guaranteed', reply: true, timeoutSeconds: 5 }, schema: request, replySchema: reply });

const byName = <Channel extends ChannelDefinition>(channels: Channel[]): Record<string, Channel> => Object.fromEntries(channels.map((channel) => [channel.name, channel]));
export const syncChannels = byName(SERVICES.map(syncChannel));
export const asyncChannels = byName(SERVICES.map(asyncChannel));
export const essayChannels = { ...syncChannels, ...asyncChannels };
