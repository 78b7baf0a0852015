import type { z } from 'zod';
import { resolvePolicy } from './resolve.ts';
import type { Schema } from './schema.ts';
import type { Subscription } from './topic.ts';
import type { FireAndForgetPolicy, GuaranteedPolicy, PolicyInput, PolicyKind, RequestResponsePolicy } from './types.ts';

/** The resolved policy of each kind (an indexed type, so that a definition of one kind is a definition of any). */
export interface PolicyOfKind {
  readonly guaranteed: GuaranteedPolicy;
  readonly 'fire-and-forget': FireAndForgetPolicy;
  readonly 'request-response': RequestResponsePolicy;
}

/**
 * A channel: a name, a delivery policy and the schema of its messages. The one place a channel is described:
 * the stack deploys it, the handler validates against it, the SDK validates before anything leaves the process.
 * Its type keeps the name, the policy's kind and both schemas, so the SDK and the runtime can check calls at
 * compile time.
 */
export interface ChannelDefinition<
  Payload extends Schema = Schema,
  Reply extends Schema | undefined = Schema | undefined,
  Kind extends PolicyKind = PolicyKind,
  Name extends string = string,
> {
  readonly name: Name;
  readonly policy: PolicyOfKind[Kind];
  /** The message's schema. */
  readonly schema: Payload;
  /** The answer's schema, for request-response channels and guaranteed channels with replies. */
  readonly replySchema: Reply;
  /** The topic whose events the channel takes (defineSubscriber), besides what is sent to it directly. */
  readonly subscription?: Subscription;
}

/** An application's channels by name, as its channels module exports them: what the constructs build, the SDK sends on. */
export type Catalog = Readonly<Record<string, ChannelDefinition>>;

/**
 * What is wrong with a value offered as a catalog, or undefined when nothing is: every entry a defined channel,
 * under its own name (calls name a channel by its key, infrastructure by its definition's name; they must agree).
 */
export function catalogProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'it is not an object of channels';
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'object' || entry === null || !('name' in entry && 'policy' in entry && 'schema' in entry)) {
      return `the entry "${key}" is not a defineChannel(...) result`;
    }
    if (entry.name !== key) return `the entry "${key}" holds the channel "${String(entry.name)}"; list each channel under its own name`;
  }
  return undefined;
}

export interface ChannelSpec<Payload extends Schema, Reply extends Schema | undefined, Policy extends PolicyInput = PolicyInput> {
  readonly policy: Policy;
  readonly schema: Payload;
  readonly replySchema?: Reply;
}

/** What a sender gives: the payload schema's input. */
export type PayloadOf<Channel extends ChannelDefinition> = z.input<Channel['schema']>;
/** What a caller gets back: the reply schema's output, unknown for a channel without one. */
export type ReplyOf<Channel extends ChannelDefinition> = Channel['replySchema'] extends Schema ? z.output<Channel['replySchema']> : unknown;
/** What a handler must return as its reply: the reply schema's input, unknown for a channel without one. */
export type ReplyInputOf<Reply extends Schema | undefined> = Reply extends Schema ? z.input<Reply> : unknown;

/** Resolves the policy's defaults and rules now, so that a bad channel fails at import, long before deploy. */
export function defineChannel<
  const Name extends string,
  Payload extends Schema,
  Policy extends PolicyInput,
  Reply extends Schema | undefined = undefined,
>(name: Name, spec: ChannelSpec<Payload, Reply, Policy>): ChannelDefinition<Payload, Reply, Policy['kind'], Name> {
  return {
    name,
    policy: resolvePolicy(name, spec.policy) as PolicyOfKind[Policy['kind']],
    schema: spec.schema,
    replySchema: spec.replySchema as Reply,
  };
}
