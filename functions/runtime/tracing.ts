import { context, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span } from '@opentelemetry/api';
import type { SQSRecord } from 'aws-lambda';
import { MessageAttribute } from '../../lib/policy/index.ts';
import { sentContext, traceAttributes } from '../../lib/policy/trace-context.ts';

/**
 * The consumer's spans, on the OpenTelemetry API: a span for each batch, linking the context each record was sent in
 * without adopting any one of them as its parent, and a span for each record, a child of the span that sent it (of
 * its batch's, for a record sent without a trace), so that a trace crosses the queue. With no tracer provider registered the API hands out non-recording spans that carry
 * the context they were given: nothing is recorded, and a message's trace context still reaches its onward messages.
 */

/**
 * The tracer, asked for at each span: the API's proxy tracer keeps the first provider's tracer it finds, so one kept
 * from module load would go on recording into a provider that was since disabled (tests and benchmarks register one
 * and take it away again).
 */
const tracer = () => trace.getTracer('delivery-policies');

/** A record's span as the runtime passes it on: to its onward messages, and to its log lines. */
export interface RecordTrace {
  /** The attribute that carries the record's span on to its onward messages. */
  readonly attributes: ReturnType<typeof traceAttributes>;
  /** The trace id its log lines carry; absent when the record has no trace. */
  readonly traceId?: string;
}

/** What a record's log lines carry of its trace: its trace id, so that logs and spans can be joined. */
export function traceKeys(recordTrace: RecordTrace | undefined): { traceId?: string } {
  return recordTrace?.traceId ? { traceId: recordTrace.traceId } : {};
}

/** The context a record was sent in, if it carries one. */
function sentContextOf(record: SQSRecord): Context | undefined {
  const sent = sentContext(record.messageAttributes?.[MessageAttribute.traceparent]?.stringValue, record.attributes?.AWSTraceHeader);
  return trace.getSpanContext(sent) ? sent : undefined;
}

/** What every span of a channel's consumer says of where it runs (OpenTelemetry's messaging conventions). */
const processing = (channel: string) => ({ 'messaging.system': 'aws_sqs', 'messaging.destination.name': channel, 'messaging.operation.type': 'process' });

/** Runs a batch within its span: kind consumer, linked to each record's sent context. */
export async function inBatchSpan<T>(channel: string, records: readonly SQSRecord[], run: () => Promise<T>): Promise<T> {
  const links = records.flatMap((record): Link[] => {
    const sent = sentContextOf(record);
    return sent ? [{ context: trace.getSpanContext(sent)! }] : [];
  });
  const span = tracer().startSpan(`${channel} process`, {
    kind: SpanKind.CONSUMER,
    links,
    attributes: { ...processing(channel), 'messaging.batch.message_count': records.length },
  });
  try {
    // Active while the batch runs (where a context manager is registered, as an OpenTelemetry SDK registers one): a
    // record sent without a trace becomes a child of its batch.
    return await context.with(trace.setSpan(context.active(), span), run);
  } finally {
    span.end();
  }
}

/**
 * Runs one record within its span, a child of the context it was sent in. `failure` reads, from the record's result,
 * why it did not succeed (the span's error), or nothing.
 */
export async function inRecordSpan<T>(channel: string, record: SQSRecord, correlationId: string, run: (trace: RecordTrace) => Promise<T>, failure: (result: T) => string | undefined): Promise<T> {
  const span: Span = tracer().startSpan(
    `${channel} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...processing(channel),
        'messaging.message.id': record.messageId,
        'messaging.message.conversation_id': correlationId,
      },
    },
    sentContextOf(record) ?? context.active(),
  );
  const spanContext = span.spanContext();
  const valid = trace.isSpanContextValid(spanContext);
  try {
    // Active while the handler runs, so that the spans it makes (an instrumented AWS SDK call, a send of its own)
    // are the record's children.
    const passedOn = { attributes: traceAttributes(spanContext), ...(valid ? { traceId: spanContext.traceId } : {}) };
    const result = await context.with(trace.setSpan(context.active(), span), () => run(passedOn));
    const why = failure(result);
    if (why !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: why });
    return result;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}
