import type { z } from 'zod';
import type { ChannelDefinition, ChannelSpec, PolicyOfKind } from './channel.ts';
import { PolicyError, type PolicyViolation } from './errors.ts';
import { isChannelName, resolvePolicy } from './resolve.ts';
import { check, type Schema } from './schema.ts';
import type { FireAndForgetPolicy, FireAndForgetPolicyInput, GuaranteedPolicy, GuaranteedPolicyInput } from './types.ts';
import { SDK_ATTRIBUTE_BYTES } from './wire.ts';

/**
 * SNS's default limit for one publish, body and attributes together (a topic's MaximumMessageSize, which
 * CloudFormation does not set): smaller than SQS's 1 MiB, so it is the limit of an event.
 */
export const SNS_MAX_MESSAGE_BYTES = 262_144;

/** The largest event body a topic may take: SNS's limit less the SDK's attributes, which count toward it. */
export const TOPIC_MAX_MESSAGE_BYTES = SNS_MAX_MESSAGE_BYTES - SDK_ATTRIBUTE_BYTES;

/**
 * A topic: an event announced once and delivered to every channel subscribed to it, each under its own delivery
 * policy. The one place the event is described: the stack deploys it, the SDK checks what is published against it,
 * and every subscriber's consumer parses it with its schema.
 */
export interface TopicDefinition<Event extends Schema = Schema, Name extends string = string> {
  readonly name: Name;
  /** The event's schema, which every subscriber's consumer checks. */
  readonly schema: Event;
  /** A FIFO topic, delivering in order to FIFO guaranteed channels only. */
  readonly fifo: boolean;
  /** The largest event body, in bytes. */
  readonly maxMessageBytes: number;
}

/** An application's topics by name, as its channels module exports them (`topics`). */
export type TopicCatalog = Readonly<Record<string, TopicDefinition>>;

export interface TopicSpec<Event extends Schema> {
  readonly schema: Event;
  /** SNS FIFO: events of one group reach each subscriber in order; every subscriber must be a FIFO guaranteed channel. @default false */
  readonly fifo?: boolean;
  /** The largest event body, in bytes. 1024..261632 (SNS's 256 KiB less the SDK's attributes). @default 261632 */
  readonly maxMessageBytes?: number;
}

/** Resolves the topic's defaults and rules now, so that a bad topic fails at import, long before deploy. */
export function defineTopic<const Name extends string, Event extends Schema>(name: Name, spec: TopicSpec<Event>): TopicDefinition<Event, Name> {
  const topic = { name, schema: spec.schema, fifo: spec.fifo ?? false, maxMessageBytes: spec.maxMessageBytes ?? TOPIC_MAX_MESSAGE_BYTES };
  const violations: PolicyViolation[] = [];
  if (!isChannelName(name)) violations.push({ field: 'name', value: name, rule: 'must start with a lowercase letter and hold only letters and digits (at most 40)' });
  if (typeof topic.fifo !== 'boolean') violations.push({ field: 'fifo', value: topic.fifo, rule: 'must be true or false' });
  if (!(Number.isInteger(topic.maxMessageBytes) && topic.maxMessageBytes >= 1024 && topic.maxMessageBytes <= TOPIC_MAX_MESSAGE_BYTES)) {
    violations.push({
      field: 'maxMessageBytes',
      value: topic.maxMessageBytes,
      rule: `must be a whole number from 1024 to ${TOPIC_MAX_MESSAGE_BYTES}: SNS's ${SNS_MAX_MESSAGE_BYTES} bytes for a publish less the SDK's attributes`,
    });
  }
  if (violations.length > 0) throw new PolicyError(name, violations);
  return topic;
}

/** A channel's place on a topic: which topic, and which of its events it takes. */
export interface Subscription {
  readonly topic: string;
  /** SNS's filter policy over the event's body; absent, every event. */
  readonly filter?: EventFilter<unknown>;
}

/** One condition on an event field, as SNS's filter policies write it. */
export type FilterCondition<Value> =
  | (Value extends string | number | boolean | null ? Value : never)
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly 'equals-ignore-case': string }
  | { readonly 'anything-but': Value | readonly Value[] }
  | { readonly numeric: readonly (string | number)[] }
  | { readonly exists: boolean };

/**
 * Which events a subscriber takes, by the fields of the event as it travels (the schema's input): per field, the
 * conditions any one of which lets the event through; every field given must let it through. Nested objects nest.
 */
export type EventFilter<Event> = [Event] extends [readonly (infer Item)[]]
  ? readonly FilterCondition<Item>[]
  : [Event] extends [object]
    ? { readonly [Field in keyof Event]?: EventFilter<NonNullable<Event[Field]>> }
    : readonly FilterCondition<Event>[];

export interface SubscriberSpec<Event extends Schema, Reply extends Schema | undefined, Policy extends GuaranteedPolicyInput | FireAndForgetPolicyInput>
  extends Omit<ChannelSpec<Event, Reply, Policy>, 'schema'> {
  /** Only the events that pass: SNS filters them before they reach the channel's queue. @default - every event */
  readonly filter?: EventFilter<z.input<Event>>;
}

/** SNS's limits on a filter policy: at most 5 fields, and at most 150 combinations of their conditions. */
const FILTER_MAX_FIELDS = 5;
const FILTER_MAX_COMBINATIONS = 150;

/**
 * A channel that takes a topic's events, under its own delivery policy: its schema is the topic's. A guaranteed
 * subscriber gets its queue and DLQ; a fire-and-forget one its queue, its events expiring their time to live after
 * they were published. A request-response channel cannot subscribe: a published event has no caller waiting.
 */
export function defineSubscriber<
  const Name extends string,
  Event extends Schema,
  Policy extends GuaranteedPolicyInput | FireAndForgetPolicyInput,
  Reply extends Schema | undefined = undefined,
>(topic: TopicDefinition<Event>, name: Name, spec: SubscriberSpec<Event, Reply, Policy>): ChannelDefinition<Event, Reply, Policy['kind'], Name> {
  const kind = (spec.policy as { kind: unknown }).kind;
  if (kind !== 'guaranteed' && kind !== 'fire-and-forget') {
    throw new PolicyError(name, [
      { field: 'kind', value: kind, rule: `cannot subscribe to the topic ${topic.name}: an event has no caller waiting for an answer; subscribe a 'guaranteed' or 'fire-and-forget' channel` },
    ]);
  }
  const policy = resolvePolicy(name, spec.policy) as GuaranteedPolicy | FireAndForgetPolicy;
  const violations: PolicyViolation[] = [];
  const fifo = policy.kind === 'guaranteed' && policy.fifo;
  if (topic.fifo !== fifo) {
    violations.push(
      topic.fifo
        ? { field: 'fifo', value: fifo, rule: `must be true to subscribe to the FIFO topic ${topic.name} (SNS delivers a FIFO topic to FIFO queues only; a guaranteed channel with fifo: true)` }
        : { field: 'fifo', value: fifo, rule: `must be false to subscribe to the standard topic ${topic.name} (SNS delivers a standard topic to standard queues only)` },
    );
  }
  if (policy.maxMessageBytes < topic.maxMessageBytes) {
    violations.push({
      field: 'maxMessageBytes',
      value: policy.maxMessageBytes,
      rule: `must be at least the topic ${topic.name}'s maxMessageBytes (${topic.maxMessageBytes}), or its queue would refuse events the topic takes`,
    });
  }
  if (spec.filter !== undefined) violations.push(...filterViolations(topic, spec.filter));
  if (violations.length > 0) throw new PolicyError(name, violations);
  return {
    name,
    policy: policy as PolicyOfKind[Policy['kind']],
    schema: topic.schema,
    replySchema: spec.replySchema as Reply,
    subscription: { topic: topic.name, ...(spec.filter !== undefined ? { filter: spec.filter as EventFilter<unknown> } : {}) },
  };
}

/**
 * What SNS would refuse in a filter, or what would filter out every event: a field the event does not have, a
 * value its schema never takes, a condition SNS does not know, more fields or combinations than SNS allows.
 */
function filterViolations(topic: TopicDefinition, filter: unknown): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  let fields = 0;
  let combinations = 1;
  const visit = (node: unknown, schema: Schema | undefined, path: string) => {
    if (typeof node !== 'object' || node === null) {
      violations.push({ field: `filter${path}`, value: node, rule: 'must be an object of fields, each with a list of conditions' });
      return;
    }
    for (const [field, conditions] of Object.entries(node)) {
      const fieldPath = `${path}.${field}`;
      const fieldSchema = schema && objectShape(schema)?.[field];
      if (schema && objectShape(schema) && !fieldSchema) {
        violations.push({ field: `filter${fieldPath}`, value: conditions, rule: `names no field of the topic ${topic.name}'s events` });
        continue;
      }
      if (!Array.isArray(conditions)) {
        visit(conditions, fieldSchema, fieldPath);
        continue;
      }
      fields += 1;
      combinations *= Math.max(conditions.length, 1);
      if (conditions.length === 0) violations.push({ field: `filter${fieldPath}`, value: conditions, rule: 'must list at least one condition (an empty list lets no event through)' });
      for (const condition of conditions) {
        const problem = conditionProblem(condition, fieldSchema);
        if (problem) violations.push({ field: `filter${fieldPath}`, value: condition, rule: problem });
      }
    }
  };
  visit(filter, topic.schema, '');
  if (fields > FILTER_MAX_FIELDS) violations.push({ field: 'filter', value: fields, rule: `must name at most ${FILTER_MAX_FIELDS} fields (an SNS limit)` });
  if (combinations > FILTER_MAX_COMBINATIONS) {
    violations.push({ field: 'filter', value: combinations, rule: `must have at most ${FILTER_MAX_COMBINATIONS} combinations of conditions across its fields (an SNS limit)` });
  }
  return violations;
}

const OPERATORS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'anything-but', 'numeric', 'exists']);

function conditionProblem(condition: unknown, fieldSchema: Schema | undefined): string | undefined {
  if (condition === null || ['string', 'number', 'boolean'].includes(typeof condition)) {
    // A value the field's schema refuses is never on the wire: the condition would never let an event through.
    if (fieldSchema && !check(fieldSchema, condition).success) return "is never a value of this field (its schema refuses it), so it would let no event through";
    return undefined;
  }
  if (typeof condition !== 'object' || Array.isArray(condition)) return 'must be a value or one of SNS\'s operators ({ prefix }, { suffix }, { "anything-but" }, { numeric }, { exists }, { "equals-ignore-case" })';
  const keys = Object.keys(condition);
  if (keys.length !== 1 || !OPERATORS.has(keys[0]!)) return `must hold exactly one of SNS's operators (${[...OPERATORS].join(', ')})`;
  const operand = (condition as Record<string, unknown>)[keys[0]!];
  switch (keys[0]) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      return typeof operand === 'string' && operand.length > 0 ? undefined : `needs a non-empty string after ${keys[0]}`;
    case 'exists':
      return typeof operand === 'boolean' ? undefined : 'needs true or false after exists';
    case 'numeric':
      return numericProblem(operand);
    default:
      return undefined;
  }
}

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

/** SNS's numeric matching: one or two comparisons, as [op, number] or [op, number, op, number]. */
function numericProblem(operand: unknown): string | undefined {
  const pairs = Array.isArray(operand) && (operand.length === 2 || operand.length === 4);
  const wellFormed = pairs && operand.every((part, index) => (index % 2 === 0 ? NUMERIC_OPERATORS.has(part as string) : typeof part === 'number' && Number.isFinite(part)));
  return wellFormed ? undefined : 'needs [operator, number] or [operator, number, operator, number] after numeric, with operators =, <, <=, >, >=';
}

/** An object schema's fields, classic zod or mini (both keep them in the core definition), or undefined for any other. */
function objectShape(schema: Schema): Record<string, Schema> | undefined {
  const definition = (schema as unknown as { _zod?: { def?: { type?: string; shape?: Record<string, Schema>; innerType?: Schema } } })._zod?.def;
  if (definition?.type === 'object') return definition.shape;
  // Optional, nullable and default wrappers hold the object inside.
  return definition?.innerType ? objectShape(definition.innerType) : undefined;
}

/**
 * What is wrong with a value offered as a catalog's topics, given its channels, or undefined when nothing is: every
 * entry a defined topic under its own name, and every subscriber's topic among them, with the topic's schema.
 */
export function topicCatalogProblem(topics: unknown, channels: Readonly<Record<string, ChannelDefinition>>): string | undefined {
  if (typeof topics !== 'object' || topics === null) return 'the topics are not an object of topics';
  for (const [key, entry] of Object.entries(topics)) {
    if (typeof entry !== 'object' || entry === null || !('name' in entry && 'schema' in entry && 'fifo' in entry && 'maxMessageBytes' in entry)) {
      return `the topic entry "${key}" is not a defineTopic(...) result`;
    }
    if (entry.name !== key) return `the topic entry "${key}" holds the topic "${String(entry.name)}"; list each topic under its own name`;
  }
  for (const channel of Object.values(channels)) {
    if (!channel.subscription) continue;
    const topic = Object.hasOwn(topics, channel.subscription.topic) ? (topics as TopicCatalog)[channel.subscription.topic] : undefined;
    if (!topic) return `the channel "${channel.name}" subscribes to the topic "${channel.subscription.topic}", which the topics do not list`;
    if (topic.schema !== channel.schema) return `the channel "${channel.name}" does not have the schema of its topic "${topic.name}"; declare it with defineSubscriber`;
  }
  return undefined;
}
