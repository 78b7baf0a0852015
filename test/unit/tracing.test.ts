import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inBatchSpan, inRecordSpan, type RecordTrace } from '../../functions/runtime/tracing.ts';
import { MessageAttribute } from '../../lib/policy/index.ts';
import { activeTraceAttributes, sentContext } from '../../lib/policy/trace-context.ts';

const SENDER = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const traceparentOf = (ids: { traceId: string; spanId: string }) => `00-${ids.traceId}-${ids.spanId}-01`;

function record(messageId: string, carried: { traceparent?: string; awsTraceHeader?: string } = {}): SQSRecord {
  return {
    messageId,
    body: '{}',
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', ...(carried.awsTraceHeader ? { AWSTraceHeader: carried.awsTraceHeader } : {}) },
    messageAttributes: carried.traceparent ? { [MessageAttribute.traceparent]: { dataType: 'String', stringValue: carried.traceparent } } : {},
  } as unknown as SQSRecord;
}

/** Runs a record in its span as a consumer does, and returns what it passed on. */
async function processed(delivered: SQSRecord, outcome = 'succeeded'): Promise<RecordTrace> {
  let passedOn: RecordTrace | undefined;
  await inRecordSpan('orders', delivered, `c-${delivered.messageId}`, async (recordTrace) => ((passedOn = recordTrace), outcome), (result) => (result === 'succeeded' ? undefined : result));
  return passedOn!;
}

describe('Trace context across a queue, with no tracer provider registered (nothing recorded)', () => {
  it("passes the sender's traceparent on unchanged, and gives the log lines its trace id", async () => {
    const passedOn = await processed(record('m1', { traceparent: traceparentOf(SENDER) }));
    expect(passedOn).toStrictEqual({ attributes: { [MessageAttribute.traceparent]: { DataType: 'String', StringValue: traceparentOf(SENDER) } }, traceId: SENDER.traceId });
  });

  it('carries nothing for a message sent without a trace', async () => {
    expect(await processed(record('m2'))).toStrictEqual({ attributes: {} });
    expect(activeTraceAttributes()).toStrictEqual({});
  });

  it("reads the AWSTraceHeader SQS sets from X-Ray's header when there is no traceparent", () => {
    const sent = trace.getSpanContext(sentContext(undefined, 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'));
    expect(sent).toMatchObject({ traceId: '5759e988bd862e3fe1be46a994272793', spanId: '53995c3f42cd8ad8', isRemote: true });
  });
});

describe('Spans, with a tracer provider registered (as the ADOT layer or the local cloud registers one)', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
    context.setGlobalContextManager(new StackContextManager().enable());
  });
  afterEach(() => exporter.reset());
  // The forks run file after file in one process: the next file must find no provider.
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it("gives each record a span that is a child of the sender's, and passes its own context on", async () => {
    const passedOn = await processed(record('m1', { traceparent: traceparentOf(SENDER) }));
    const [span] = exporter.getFinishedSpans();
    expect(span).toMatchObject({ name: 'orders process', kind: SpanKind.CONSUMER, parentSpanContext: { spanId: SENDER.spanId, traceId: SENDER.traceId } });
    expect(span!.spanContext().traceId).toBe(SENDER.traceId);
    expect(span!.attributes).toMatchObject({ 'messaging.message.id': 'm1', 'messaging.message.conversation_id': 'c-m1', 'messaging.destination.name': 'orders' });
    expect(passedOn.attributes[MessageAttribute.traceparent]?.StringValue).toBe(traceparentOf(span!.spanContext()));
  });

  it('makes a record sent without a trace a child of its batch, and the record span active while its handler runs', async () => {
    let activeInHandler: string | undefined;
    const untraced = record('m4');
    await inBatchSpan('orders', [untraced], () =>
      inRecordSpan('orders', untraced, 'c-m4', async () => ((activeInHandler = trace.getActiveSpan()?.spanContext().spanId), 'succeeded'), () => undefined),
    );
    const [recordSpan, batch] = exporter.getFinishedSpans();
    expect(recordSpan!.parentSpanContext?.spanId).toBe(batch!.spanContext().spanId);
    expect(activeInHandler).toBe(recordSpan!.spanContext().spanId);
  });

  it('marks the span of a record that did not succeed as an error, with its outcome', async () => {
    await processed(record('m3', { traceparent: traceparentOf(SENDER) }), 'dead-lettered');
    expect(exporter.getFinishedSpans()[0]!.status).toStrictEqual({ code: 2, message: 'dead-lettered' });
  });

  it("links the batch's span to each record's sent context, and adopts none of them as its parent", async () => {
    const other = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) };
    await inBatchSpan('orders', [record('m1', { traceparent: traceparentOf(SENDER) }), record('m2', { traceparent: traceparentOf(other) }), record('m3')], async () => undefined);
    const [batch] = exporter.getFinishedSpans();
    expect(batch!.parentSpanContext).toBeUndefined();
    expect(batch!.links.map((link) => link.context.spanId)).toStrictEqual([SENDER.spanId, other.spanId]);
    expect(batch!.attributes['messaging.batch.message_count']).toBe(3);
  });

  it("gives what the SDK sends the caller's active span", () => {
    const span = trace.getTracer('test').startSpan('checkout');
    const attributes = context.with(trace.setSpan(ROOT_CONTEXT, span), () => activeTraceAttributes());
    span.end();
    expect(attributes[MessageAttribute.traceparent]?.StringValue).toBe(traceparentOf(span.spanContext()));
  });
});
