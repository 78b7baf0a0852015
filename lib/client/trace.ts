import type { LifecycleRecord, LifecycleStatus } from '../policy/index.ts';
import type { MessagingClient } from './client.ts';

/** One thing that happened to a message on one channel, as its lifecycle record tells it. */
export interface TraceEvent {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly what: 'sent' | 'claimed' | 'failed' | 'applied' | 'sent on' | 'dead-lettered' | 'redriven';
  /** The SQS receive it happened on. */
  readonly attempt?: number;
  readonly reason?: string;
  /** After a failure: how long until the message's next recorded receive (its backoff, and any wait for a consumer). */
  readonly nextReceiveAfterMs?: number;
  /** For 'sent on': the onward messages, each `target correlationId`. */
  readonly onward?: readonly string[];
}

/** A message on one channel, with the messages its handler sent on, each in turn. */
export interface TraceNode {
  readonly correlationId: string;
  readonly channel: string;
  readonly status: LifecycleStatus | 'not-tracked' | 'unknown';
  /** The topic it came through, for a subscriber's message. */
  readonly topic?: string;
  readonly flowId?: string;
  readonly causationId?: string;
  readonly reply?: unknown;
  readonly events: readonly TraceEvent[];
  readonly onward: readonly TraceNode[];
}

/** How deep a flow is followed: past it, a loop of channels sending on to each other would never end. */
const MAX_DEPTH = 20;

/**
 * A message's story and its flow's, from the lifecycle records alone: each guaranteed channel that saw the
 * correlation id (several, for an event its subscribers took), then what each sent on, record by record. A
 * fire-and-forget channel keeps no record: it appears as 'not-tracked'.
 */
export async function traceMessage(client: MessagingClient, correlationId: string, options: { channel?: string } = {}): Promise<TraceNode[]> {
  const found = await client.status(correlationId, options);
  return Promise.all(
    found.map((status) =>
      'history' in status ? nodeOf(client, status, 0) : untracked(client, correlationId, 'channel' in status ? status.channel : undefined, status.status),
    ),
  );
}

async function nodeOf(client: MessagingClient, record: LifecycleRecord, depth: number): Promise<TraceNode> {
  const onward = depth >= MAX_DEPTH ? [] : await Promise.all((record.onward ?? []).map((message) => onwardNodes(client, message, depth + 1)));
  return {
    correlationId: record.correlationId,
    channel: record.channel,
    status: record.status,
    ...topicOf(client, record.channel),
    ...(record.flowId && record.flowId !== record.correlationId ? { flowId: record.flowId } : {}),
    ...(record.causationId ? { causationId: record.causationId } : {}),
    ...(record.reply !== undefined && record.reply !== null ? { reply: record.reply } : {}),
    events: timelineOf(record),
    onward: onward.flat(),
  };
}

/** The records of one onward message: its channel's, or, for an event, each subscriber's. */
async function onwardNodes(client: MessagingClient, message: NonNullable<LifecycleRecord['onward']>[number], depth: number): Promise<TraceNode[]> {
  const channels =
    message.kind === 'channel'
      ? [message.target]
      : Object.values(client.channels).filter((channel) => channel.subscription?.topic === message.target).map((channel) => channel.name);
  return Promise.all(
    channels.map(async (channel) => {
      const [status] = await client.status(message.correlationId, { channel });
      return status && 'history' in status ? nodeOf(client, status, depth) : untracked(client, message.correlationId, channel, status?.status);
    }),
  );
}

/** A message no record tells of: on a fire-and-forget channel, or not yet (or no longer) recorded. */
function untracked(client: MessagingClient, correlationId: string, channel: string | undefined, status: string | undefined): TraceNode {
  return { correlationId, channel: channel ?? '', ...(channel ? topicOf(client, channel) : {}), status: status === 'not-tracked' ? 'not-tracked' : 'unknown', events: [], onward: [] };
}

function topicOf(client: MessagingClient, channel: string): { topic?: string } {
  const topic = client.channels[channel]?.subscription?.topic;
  return topic ? { topic } : {};
}

/** The record's history as a timeline: a redrive shows where a dead-lettered message came back. */
export function timelineOf(record: LifecycleRecord): TraceEvent[] {
  const events: TraceEvent[] = record.sentAt === undefined ? [] : [{ at: record.sentAt, what: 'sent' }];
  record.history.forEach((event, index) => {
    const previous = record.history[index - 1];
    if (previous?.status === 'dead-lettered' && event.status !== 'dead-lettered') events.push({ at: event.at, what: 'redriven' });
    const common = { at: event.at, attempt: event.attempt, ...(event.reason ? { reason: event.reason } : {}) };
    switch (event.status) {
      case 'in-progress':
        events.push({ ...common, what: 'claimed' });
        break;
      case 'retrying': {
        const next = record.history[index + 1];
        events.push({ ...common, what: 'failed', ...(next ? { nextReceiveAfterMs: next.at - event.at } : {}) });
        break;
      }
      case 'succeeded':
        events.push({ ...common, what: 'applied' });
        break;
      case 'sent-on':
        events.push({ ...common, what: 'sent on', onward: (record.onward ?? []).map((message) => `${message.target} ${message.correlationId}`) });
        break;
      case 'dead-lettered':
        events.push({ ...common, what: 'dead-lettered' });
        break;
    }
  });
  return events;
}

/** The trace as a person reads it: one block per message, its onward messages indented under it. */
export function renderTrace(nodes: readonly TraceNode[]): string {
  if (nodes.length === 0 || nodes.every((node) => node.status === 'unknown')) {
    return `${nodes[0]?.correlationId ?? 'this id'}: no lifecycle record (not yet received by a guaranteed consumer, never sent, or past its 30 days)\n`;
  }
  const lines: string[] = [];
  const render = (node: TraceNode, indent: string) => {
    const via = node.topic ? ` (through ${node.topic})` : '';
    const cause = node.causationId ? `, caused by ${node.causationId}` : '';
    lines.push(`${indent}${node.channel}${via}  ${node.correlationId}  ${node.status}${cause}`);
    for (const event of node.events) lines.push(`${indent}  ${timeOf(event.at)}  ${describe(event)}`);
    if (node.reply !== undefined) lines.push(`${indent}  reply ${JSON.stringify(node.reply)}`);
    for (const child of node.onward) render(child, `${indent}    `);
  };
  for (const node of nodes) render(node, '');
  return `${lines.join('\n')}\n`;
}

function describe(event: TraceEvent): string {
  const attempt = event.attempt === undefined ? '' : ` (receive ${event.attempt})`;
  switch (event.what) {
    case 'failed':
      return `failed${attempt}: ${event.reason ?? 'no reason recorded'}${event.nextReceiveAfterMs === undefined ? '' : `; received again ${(event.nextReceiveAfterMs / 1000).toFixed(1)} s later`}`;
    case 'sent on':
      return `sent on${attempt}: ${event.onward?.join(', ') ?? ''}`;
    case 'dead-lettered':
      return `dead-lettered${attempt}: ${event.reason ?? 'no reason recorded'}`;
    default:
      return `${event.what}${attempt}${event.reason ? `: ${event.reason}` : ''}`;
  }
}

/** UTC time of day to the millisecond: a flow's events are seconds apart, its date is the same. */
function timeOf(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').slice(0, 23);
}
