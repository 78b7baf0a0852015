import type { z } from 'zod';
import { resolvePolicy } from './resolve.ts';
import type { DeliveryPolicy, PolicyInput } from './types.ts';

/**
 * A channel: a name, a delivery policy and the schema of its messages. The one place a channel is described:
 * the stack deploys it, the handler validates against it, the SDK validates before anything leaves the process.
 */
export interface ChannelDefinition<
  Payload extends z.ZodType = z.ZodType,
  Reply extends z.ZodType | undefined = z.ZodType | undefined,
> {
  readonly name: string;
  readonly policy: DeliveryPolicy;
  /** The message's schema. */
  readonly schema: Payload;
  /** The answer's schema, for request-response channels and guaranteed channels with replies. */
  readonly replySchema: Reply;
}

export interface ChannelSpec<Payload extends z.ZodType, Reply extends z.ZodType | undefined> {
  readonly policy: PolicyInput;
  readonly schema: Payload;
  readonly replySchema?: Reply;
}

/** Resolves the policy's defaults and rules now, so that a bad channel fails at import, long before deploy. */
export function defineChannel<Payload extends z.ZodType, Reply extends z.ZodType | undefined = undefined>(
  name: string,
  spec: ChannelSpec<Payload, Reply>,
): ChannelDefinition<Payload, Reply> {
  return {
    name,
    policy: resolvePolicy(name, spec.policy),
    schema: spec.schema,
    replySchema: spec.replySchema as Reply,
  };
}
